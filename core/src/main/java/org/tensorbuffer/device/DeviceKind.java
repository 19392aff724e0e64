package org.tensorbuffer.device;

/** The family of a {@link Device}. */
public enum DeviceKind {
    /** Host memory and Java/BLAS kernels. */
    CPU,
    /** An NVIDIA GPU through the CUDA driver API. */
    CUDA,
    /** A Vulkan compute device (Mesa lavapipe, NVIDIA, ...). */
    VULKAN,
    /** An Apple GPU, reached through Vulkan on MoltenVK. */
    METAL,
    /**
     * No memory and no computation: shapes, dtypes and lifetimes only (as PyTorch's {@code meta} device), for
     * recording what a step allocates.
     */
    META
}

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
    METAL
}

package org.tensorbuffer.cuda;

/**
 * The four driver calls a {@link PtxModule} makes, with the signatures of {@code cuda.h} (handles as raw 64-bit values,
 * out-parameters as one-element arrays, {@code CUresult} codes returned). {@link JCudaModuleDriver} is the real one;
 * tests put a recording fake or the CUDA-on-CPU shim behind it. Implementations must be thread-safe.
 */
interface ModuleDriver {
    /** {@code cuModuleLoadData(module, image)}; {@code image} is NUL-terminated PTX. */
    int moduleLoadData(long[] module, byte[] image);

    /** {@code cuModuleGetFunction(function, module, name)}. */
    int moduleGetFunction(long[] function, long module, String name);

    /**
     * {@code cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes, stream, args, NULL)}.
     */
    int launchKernel(long function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                     int sharedBytes, long stream, KernelArgs args);

    /** {@code cuModuleUnload(module)}. */
    int moduleUnload(long module);
}

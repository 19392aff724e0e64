package org.tensorbuffer.cuda;

import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;

/**
 * The project's kernels ({@code src/main/cuda/kernels.cu}, compiled to PTX for {@code compute_75} by
 * {@code device-cuda/scripts/build-ptx.sh} and shipped as the resource {@value #RESOURCE}), loaded into one context
 * with {@code cuModuleLoadData}; the driver JIT-compiles the PTX for the GPU at hand.
 *
 * <p>Functions are looked up by name on first use and cached. Thread-safe; the owning device's context must be
 * current on the calling thread.
 */
final class PtxModule implements AutoCloseable {
    /** Class-path resource of the PTX, relative to this class. */
    static final String RESOURCE = "kernels.ptx";
    /** The virtual architecture the PTX was generated for. */
    static final String ARCH = "compute_75";

    private final CUmodule module = new CUmodule();
    private final ConcurrentHashMap<String, CUfunction> functions = new ConcurrentHashMap<>();

    /** Loads the PTX into the current context. */
    PtxModule() {
        CudaException.check(cuModuleLoadData(module, ptx()), "cuModuleLoadData(" + RESOURCE + ")");
    }

    /** The PTX text, NUL-terminated as {@code cuModuleLoadData} requires. */
    static byte[] ptx() {
        try (InputStream in = PtxModule.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("resource " + RESOURCE + " missing next to " + PtxModule.class);
            }
            byte[] text = in.readAllBytes();
            return Arrays.copyOf(text, text.length + 1);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + RESOURCE, e);
        }
    }

    private CUfunction function(String name) {
        return functions.computeIfAbsent(name, n -> {
            CUfunction f = new CUfunction();
            CudaException.check(cuModuleGetFunction(f, module, n), "cuModuleGetFunction(" + n + ")");
            return f;
        });
    }

    /** Launches kernel {@code name} on a 1-D grid of {@code blocks} blocks of {@code threads} threads. */
    void launch(String name, int blocks, int threads, CUstream stream, KernelArgs args) {
        launch(name, blocks, 1, 1, threads, 1, stream, args);
    }

    /** Launches kernel {@code name} on a 3-D grid of 2-D blocks. */
    void launch(String name, int gridX, int gridY, int gridZ, int blockX, int blockY, CUstream stream,
                KernelArgs args) {
        CudaException.check(cuLaunchKernel(function(name), gridX, gridY, gridZ, blockX, blockY, 1, 0, stream,
                args.toPointer(), null), "cuLaunchKernel(" + name + ")");
    }

    /** Unloads the module. */
    @Override
    public void close() {
        cuModuleUnload(module);
    }
}

package org.tensorbuffer.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The project's kernels ({@code src/main/cuda/kernels.cu}, compiled to PTX for {@code compute_75} by
 * {@code device-cuda/scripts/build-ptx.sh} and shipped as the resource {@value #RESOURCE}), loaded into one context
 * with {@code cuModuleLoadData}; the driver JIT-compiles the PTX for the GPU at hand.
 *
 * <p>Functions are looked up by name on first use and cached. The driver calls go through a {@link ModuleDriver}
 * ({@link JCudaModuleDriver} on a GPU; fakes and the CUDA-on-CPU shim in tests). Thread-safe; the owning device's
 * context must be current on the calling thread.
 */
final class PtxModule implements AutoCloseable {
    /** Class-path resource of the PTX, relative to this class. */
    static final String RESOURCE = "kernels.ptx";
    /** The virtual architecture the PTX was generated for. */
    static final String ARCH = "compute_75";

    private final ModuleDriver driver;
    private final long module;
    private final ConcurrentHashMap<String, Long> functions = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /**
     * Loads the PTX into the current context through {@code driver}.
     *
     * @throws CudaException naming {@code cuModuleLoadData} if the driver refuses the module
     */
    PtxModule(ModuleDriver driver) {
        this.driver = driver;
        long[] m = new long[1];
        CudaException.check(driver.moduleLoadData(m, ptx()), "cuModuleLoadData(" + RESOURCE + ")");
        this.module = m[0];
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

    private long function(String name) {
        return functions.computeIfAbsent(name, n -> {
            long[] f = new long[1];
            CudaException.check(driver.moduleGetFunction(f, module, n), "cuModuleGetFunction(" + n + ")");
            return f[0];
        });
    }

    /** Launches kernel {@code name} on a 1-D grid of {@code blocks} blocks of {@code threads} threads. */
    void launch(String name, int blocks, int threads, long stream, KernelArgs args) {
        launch(name, blocks, 1, 1, threads, 1, stream, args);
    }

    /**
     * Launches kernel {@code name} on a 3-D grid of 2-D blocks on {@code stream} (a raw {@code CUstream}).
     *
     * @throws CudaException naming the call and kernel if the lookup or launch fails
     * @throws IllegalStateException if the module was unloaded
     */
    void launch(String name, int gridX, int gridY, int gridZ, int blockX, int blockY, long stream,
                KernelArgs args) {
        if (closed) {
            throw new IllegalStateException("kernel module unloaded: cannot launch " + name);
        }
        CudaException.check(driver.launchKernel(function(name), gridX, gridY, gridZ, blockX, blockY, 1, 0, stream,
                args), "cuLaunchKernel(" + name + ")");
    }

    /** Unloads the module. Idempotent. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            driver.moduleUnload(module);
        }
    }
}

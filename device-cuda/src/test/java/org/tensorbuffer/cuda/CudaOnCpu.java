package org.tensorbuffer.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code kernels.cu} on the CPU: builds {@code src/test/cuda/kernels_on_cpu.cpp} (kernels.cu through the shim header
 * {@code cuda_on_cpu.h}) with g++ into {@code target/cuda-on-cpu/} and binds its C API with FFM. As a
 * {@link ModuleDriver} it stands where the CUDA driver stands under {@link PtxModule}: module load, symbol lookup by
 * the PTX entry name, and launches with the real grid, block and {@link KernelArgs} bytes, which it runs on host threads
 * (a launch returns when the kernel is done). "Device" memory comes from {@link #allocate} (guard pages around each
 * block). One instance per JVM ({@link #get}); thread-safe.
 */
final class CudaOnCpu implements ModuleDriver {
    private static volatile CudaOnCpu instance;

    private final MethodHandle entries;
    private final MethodHandle has;
    private final MethodHandle launch;
    private final MethodHandle launchCount;
    private final MethodHandle alloc;
    private final MethodHandle free;
    private final MethodHandle selftest;
    private final ConcurrentHashMap<Long, String> functions = new ConcurrentHashMap<>();
    /** Entries whose PTX has no barrier and no shared memory: their blocks need no block-end barrier. */
    private final java.util.Set<String> independent = ConcurrentHashMap.newKeySet();
    private final AtomicLong nextFunction = new AtomicLong(0x1000);
    private final AtomicLong loads = new AtomicLong();

    private CudaOnCpu(Path library) {
        SymbolLookup l = SymbolLookup.libraryLookup(library, Arena.global());
        Linker linker = Linker.nativeLinker();
        entries = linker.downcallHandle(l.find("tb_entries").orElseThrow(), FunctionDescriptor.of(ADDRESS));
        has = linker.downcallHandle(l.find("tb_has").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        launch = linker.downcallHandle(l.find("tb_launch").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
        launchCount = linker.downcallHandle(l.find("tb_launch_count").orElseThrow(),
                FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        alloc = linker.downcallHandle(l.find("tb_alloc").orElseThrow(), FunctionDescriptor.of(ADDRESS, JAVA_LONG));
        free = linker.downcallHandle(l.find("tb_free").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        selftest = linker.downcallHandle(l.find("tb_selftest").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
    }

    /** The shim, built on first use; skips the calling test with a message where g++ is missing. */
    static CudaOnCpu get() throws IOException, InterruptedException {
        CudaOnCpu s = instance;
        if (s == null) {
            synchronized (CudaOnCpu.class) {
                if (instance == null) {
                    instance = new CudaOnCpu(build());
                }
                s = instance;
            }
        }
        return s;
    }

    /** Compiles the shim library unless it is newer than its three sources. */
    private static Path build() throws IOException, InterruptedException {
        Path gxx = CudaToolkit.require("g++");
        Path module = CudaToolkit.moduleDir();
        Path out = CudaToolkit.scratch("cuda-on-cpu").resolve("libkernels_on_cpu.so");
        List<Path> sources = List.of(module.resolve("src/main/cuda/kernels.cu"),
                module.resolve("src/test/cuda/cuda_on_cpu.h"), module.resolve("src/test/cuda/kernels_on_cpu.cpp"));
        if (Files.exists(out)) {
            FileTime built = Files.getLastModifiedTime(out);
            if (sources.stream().allMatch(p -> lastModified(p).compareTo(built) < 0)) {
                return out;
            }
        }
        Path tmp = out.resolveSibling("libkernels_on_cpu.so.tmp");
        CudaToolkit.Result r = CudaToolkit.run(module, List.of(gxx.toString(), "-O2", "-std=c++17", "-shared",
                "-fPIC", "-pthread", "-Wall", "-Wno-unknown-pragmas", "-Wno-sign-compare", "-fno-fast-math",
                "-I", "src/main/cuda", "-o", tmp.toString(), "src/test/cuda/kernels_on_cpu.cpp"), List.of(), 600);
        if (r.status() != 0) {
            throw new IllegalStateException("g++ failed to build the CUDA-on-CPU shim:\n" + r.output());
        }
        Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return out;
    }

    private static FileTime lastModified(Path p) {
        try {
            return Files.getLastModifiedTime(p);
        } catch (IOException e) {
            return FileTime.fromMillis(Long.MAX_VALUE);
        }
    }

    /** Names of every kernel the shim has (the entry points of kernels.cu it registers). */
    List<String> entries() {
        try {
            MemorySegment s = (MemorySegment) entries.invokeExact();
            return List.of(s.reinterpret(1 << 16).getString(0).split(","));
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** How many times kernel {@code name} was launched in this JVM. */
    long launches(String name) {
        try (Arena a = Arena.ofConfined()) {
            return (long) launchCount.invokeExact(a.allocateFrom(name));
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Whether entry {@code name} runs without block-end barriers (no barrier, no shared memory in its PTX). */
    boolean independent(String name) {
        return independent.contains(name);
    }

    /**
     * Runs the shim's own check of the intrinsics kernels.cu does not use yet ({@code __shfl_*_sync},
     * {@code atomicAdd}/{@code atomicMax} on integers and floats, {@code __syncwarp}) on 3 blocks of 64 threads;
     * returns 0 when all hold, else a code of which failed.
     */
    int selfTest() {
        try {
            return (int) selftest.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** How many modules were loaded through this driver. */
    long modulesLoaded() {
        return loads.get();
    }

    /** {@code bytes} of guarded host memory standing in for device memory (address 256-byte aligned). */
    long allocate(long bytes) {
        try {
            long a = ((MemorySegment) alloc.invokeExact(bytes)).address();
            if (a == 0) {
                throw new OutOfMemoryError("tb_alloc(" + bytes + ")");
            }
            return a;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Frees what {@link #allocate} returned. */
    void release(long address) {
        try {
            int rc = (int) free.invokeExact(MemorySegment.ofAddress(address));
            if (rc != 0) {
                throw new IllegalStateException("tb_free of an address tb_alloc did not return: " + address);
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    // --- ModuleDriver ----------------------------------------------------------------------------------------------

    @Override
    public int moduleLoadData(long[] module, byte[] image) {
        if (image.length == 0 || image[image.length - 1] != 0) {
            return 218; // CUDA_ERROR_INVALID_PTX: cuModuleLoadData needs NUL-terminated text
        }
        loads.incrementAndGet();
        String ptx = new String(image, 0, image.length - 1, java.nio.charset.StandardCharsets.US_ASCII);
        String[] parts = ptx.split("\\.visible \\.entry ");
        for (int i = 1; i < parts.length; i++) {
            String body = parts[i];
            String name = body.substring(0, body.indexOf('('));
            if (!body.contains("bar.sync") && !body.contains("barrier") && !body.contains(".shared")) {
                independent.add(name);
            }
        }
        module[0] = 0xC0DE;
        return 0;
    }

    @Override
    public int moduleGetFunction(long[] function, long module, String name) {
        if (module != 0xC0DE) {
            return 400; // CUDA_ERROR_INVALID_HANDLE
        }
        try (Arena a = Arena.ofConfined()) {
            if ((int) has.invokeExact(a.allocateFrom(name)) == 0) {
                return 500; // CUDA_ERROR_NOT_FOUND
            }
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        long f = nextFunction.getAndIncrement();
        functions.put(f, name);
        function[0] = f;
        return 0;
    }

    @Override
    public int launchKernel(long function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                            int sharedBytes, long stream, KernelArgs args) {
        String name = functions.get(function);
        if (name == null) {
            return 400;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = a.allocate(ADDRESS, Math.max(1, args.count()));
            for (int i = 0; i < args.count(); i++) {
                byte[] v = args.value(i);
                MemorySegment value = a.allocate(v.length, 8);
                value.copyFrom(MemorySegment.ofArray(v));
                params.setAtIndex(ADDRESS, i, value);
            }
            return (int) launch.invokeExact(a.allocateFrom(name), gridX, gridY, gridZ, blockX, blockY, blockZ,
                    params, independent.contains(name) ? 1 : 0);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @Override
    public int moduleUnload(long module) {
        return module == 0xC0DE ? 0 : 400;
    }
}

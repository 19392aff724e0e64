package org.tensorbuffer.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * {@code libcuda.so.1}, the NVIDIA driver library, found and bound through the FFM API.
 *
 * <p>Two jobs: {@link #missingReason()} tells, without touching JCuda (whose JNI library fails to load with an
 * {@link UnsatisfiedLinkError} where the driver is missing), whether the driver library can be loaded at all; and the
 * few driver functions that JCuda 12.6 does not bind are called from here: {@code cuDeviceGetDefaultMemPool},
 * {@code cuMemPoolSetAttribute}, {@code cuMemPoolGetAttribute} and {@code cuMemPoolTrimTo} (signatures from
 * {@code cuda.h}). Thread-safe; the library stays loaded for the life of the JVM.
 */
final class DriverLibrary implements MemPoolDriver {
    /** The driver's soname on Linux. */
    static final String SONAME = "libcuda.so.1";

    /** {@code CU_MEMPOOL_ATTR_RELEASE_THRESHOLD} (value type {@code cuuint64_t}). */
    static final int ATTR_RELEASE_THRESHOLD = 4;
    /** {@code CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT}: bytes the pool holds from the OS/driver. */
    static final int ATTR_RESERVED_MEM_CURRENT = 5;
    /** {@code CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH}: high-water mark of the reserved bytes. */
    static final int ATTR_RESERVED_MEM_HIGH = 6;
    /** {@code CU_MEMPOOL_ATTR_USED_MEM_CURRENT}: bytes handed out to the application. */
    static final int ATTR_USED_MEM_CURRENT = 7;
    /** {@code CU_MEMPOOL_ATTR_USED_MEM_HIGH}: high-water mark of the used bytes. */
    static final int ATTR_USED_MEM_HIGH = 8;

    private static final Object LOCK = new Object();
    private static volatile DriverLibrary instance;
    private static volatile String missing;

    private final MethodHandle getDefaultMemPool;
    private final MethodHandle poolSetAttribute;
    private final MethodHandle poolGetAttribute;
    private final MethodHandle poolTrimTo;

    private DriverLibrary(SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        getDefaultMemPool = linker.downcallHandle(find(lib, "cuDeviceGetDefaultMemPool"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        poolSetAttribute = linker.downcallHandle(find(lib, "cuMemPoolSetAttribute"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        poolGetAttribute = linker.downcallHandle(find(lib, "cuMemPoolGetAttribute"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        poolTrimTo = linker.downcallHandle(find(lib, "cuMemPoolTrimTo"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    }

    private static MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new UnsatisfiedLinkError(SONAME + " has no symbol " + name
                + " (driver older than CUDA 11.2?)"));
    }

    /**
     * Why the driver library cannot be used here, or {@code null} if it loaded. Never throws; the answer is computed
     * once.
     */
    static String missingReason() {
        load();
        return missing;
    }

    /**
     * The bound library.
     *
     * @throws IllegalStateException with {@link #missingReason()} if it could not be loaded
     */
    static DriverLibrary get() {
        DriverLibrary d = load();
        if (d == null) {
            throw new IllegalStateException(missing);
        }
        return d;
    }

    /**
     * Binds the same functions in the library file {@code path} (for tests: a stub built with gcc that records calls).
     *
     * @throws IllegalArgumentException if the file cannot be loaded
     * @throws UnsatisfiedLinkError     if a function is missing
     */
    static DriverLibrary bind(java.nio.file.Path path, Arena arena) {
        return new DriverLibrary(SymbolLookup.libraryLookup(path, arena));
    }

    private static DriverLibrary load() {
        DriverLibrary d = instance;
        if (d != null || missing != null) {
            return d;
        }
        synchronized (LOCK) {
            if (instance == null && missing == null) {
                try {
                    instance = new DriverLibrary(SymbolLookup.libraryLookup(SONAME, Arena.global()));
                } catch (IllegalArgumentException e) {
                    missing = SONAME + " not found: no NVIDIA driver";
                } catch (RuntimeException | LinkageError e) {
                    missing = SONAME + " cannot be used: " + e;
                }
            }
            return instance;
        }
    }

    /** {@code cuDeviceGetDefaultMemPool}: the device's default memory pool (the one {@code cuMemAllocAsync} uses). */
    @Override
    public long defaultMemPool(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) getDefaultMemPool.invokeExact(out, device), "cuDeviceGetDefaultMemPool(" + device + ")");
            return out.get(ADDRESS, 0).address();
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuDeviceGetDefaultMemPool", t);
        }
    }

    /** {@code cuMemPoolSetAttribute} for a {@code cuuint64_t} attribute such as {@link #ATTR_RELEASE_THRESHOLD}. */
    @Override
    public void setPoolAttribute(long pool, int attribute, long value) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(JAVA_LONG);
            v.set(JAVA_LONG, 0, value);
            check((int) poolSetAttribute.invokeExact(MemorySegment.ofAddress(pool), attribute, v),
                    "cuMemPoolSetAttribute(" + attribute + ", " + Long.toUnsignedString(value) + ")");
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuMemPoolSetAttribute", t);
        }
    }

    /** {@code cuMemPoolGetAttribute} for a {@code cuuint64_t} attribute (reserved/used bytes, threshold). */
    @Override
    public long poolAttribute(long pool, int attribute) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(JAVA_LONG);
            check((int) poolGetAttribute.invokeExact(MemorySegment.ofAddress(pool), attribute, v),
                    "cuMemPoolGetAttribute(" + attribute + ")");
            return v.get(JAVA_LONG, 0);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuMemPoolGetAttribute", t);
        }
    }

    /** {@code cuMemPoolTrimTo}: releases cached pool memory down to {@code keepBytes}. */
    @Override
    public void trimPool(long pool, long keepBytes) {
        try {
            check((int) poolTrimTo.invokeExact(MemorySegment.ofAddress(pool), keepBytes),
                    "cuMemPoolTrimTo(" + keepBytes + ")");
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuMemPoolTrimTo", t);
        }
    }

    private static void check(int result, String call) {
        CudaException.check(result, call);
    }
}

package org.tensorbuffer.cuda;

import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuInit;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;

/**
 * Process-wide CUDA driver state through JCuda: {@code cuInit} once, the device count and each device's facts.
 * Only called once {@link DriverLibrary#missingReason()} said {@code libcuda.so.1} loads; even then JCuda's own JNI
 * library may fail to load, which callers catch as {@link LinkageError}. Thread-safe.
 */
final class CudaRuntime {
    private static volatile boolean initialised;

    private CudaRuntime() {
    }

    /**
     * Runs {@code cuInit(0)} once.
     *
     * @throws CudaException        if the driver refuses (no device, driver too old for the runtime, ...)
     * @throws UnsatisfiedLinkError if JCuda's JNI library cannot be loaded
     */
    static void init() {
        if (!initialised) {
            synchronized (CudaRuntime.class) {
                if (!initialised) {
                    CudaException.check(cuInit(0), "cuInit");
                    initialised = true;
                }
            }
        }
    }

    /** Number of CUDA devices ({@link #init()} first). */
    static int deviceCount() {
        int[] n = new int[1];
        CudaException.check(cuDeviceGetCount(n), "cuDeviceGetCount");
        return n[0];
    }

    /** The driver's CUDA version as {@code major.minor}, e.g. {@code 13.0}. */
    static String driverVersion() {
        int[] v = new int[1];
        CudaException.check(cuDriverGetVersion(v), "cuDriverGetVersion");
        return v[0] / 1000 + "." + (v[0] % 1000) / 10;
    }

    /** The GPU's marketing name, e.g. {@code NVIDIA H100 80GB HBM3}. */
    static String deviceName(CUdevice device) {
        byte[] name = new byte[256];
        CudaException.check(cuDeviceGetName(name, name.length, device), "cuDeviceGetName");
        int len = 0;
        while (len < name.length && name[len] != 0) {
            len++;
        }
        return new String(name, 0, len, StandardCharsets.UTF_8);
    }

    /** Facts for {@code devices}: name, compute capability, multiprocessors, memory, driver, memory pools. */
    static Map<String, String> deviceProperties(CUdevice device) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("name", deviceName(device));
        p.put("compute capability", attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
                + "." + attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
        p.put("multiprocessors", Integer.toString(
                attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)));
        long[] total = new long[1];
        CudaException.check(cuDeviceTotalMem(total, device), "cuDeviceTotalMem");
        p.put("memory", total[0] + " B (" + (total[0] >> 20) + " MiB)");
        p.put("driver", "CUDA " + driverVersion());
        p.put("memory pools", attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED) != 0
                ? "supported" : "not supported");
        return p;
    }

    private static int attribute(CUdevice device, int attribute) {
        int[] v = new int[1];
        CudaException.check(cuDeviceGetAttribute(v, attribute, device), "cuDeviceGetAttribute(" + attribute + ")");
        return v[0];
    }
}

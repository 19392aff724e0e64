package org.tensorbuffer.bench.gpu;

import java.util.Map;
import org.tensorbuffer.cuda.AllocMode;
import org.tensorbuffer.cuda.CudaDevice;
import org.tensorbuffer.cuda.CudaDeviceProvider;
import org.tensorbuffer.device.DeviceStatus;

/**
 * Prints what the CUDA backend sees: each status of {@link CudaDeviceProvider#probe()} and, for GPU 0, the properties
 * of an opened device in both {@link AllocMode}s (which GEMM is in use, driver pool settings). Exits with status 2 and
 * the reason when CUDA is unavailable. Used by {@code scripts/gpu-check.sh}.
 *
 * <p>Usage: {@code java --enable-native-access=ALL-UNNAMED -cp ... org.tensorbuffer.bench.gpu.CudaInfo}
 */
public final class CudaInfo {
    private CudaInfo() {
    }

    public static void main(String[] args) {
        CudaDeviceProvider provider = new CudaDeviceProvider();
        for (DeviceStatus s : provider.probe()) {
            System.out.println(s.id() + ": " + (s.available() ? "available" : "unavailable: " + s.reason()));
            s.properties().forEach((k, v) -> System.out.println("  " + k + ": " + v));
        }
        if (provider.unavailableReason() != null) {
            System.exit(2);
        }
        for (AllocMode mode : AllocMode.values()) {
            try (CudaDevice d = new CudaDevice(0, mode)) {
                System.out.println(d.id() + " opened with " + mode + ":");
                for (Map.Entry<String, String> e : d.properties().entrySet()) {
                    System.out.println("  " + e.getKey() + ": " + e.getValue());
                }
                System.out.println("  memory info: " + d.memoryInfo());
            }
        }
    }
}

package org.tensorbuffer.cuda;

import static jcuda.driver.JCudaDriver.cuDeviceGet;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import jcuda.driver.CUdevice;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceProvider;
import org.tensorbuffer.device.DeviceStatus;
import org.tensorbuffer.device.DeviceUnavailableException;

/**
 * The {@code cuda} backend: one {@link CudaDevice} per NVIDIA GPU, ids {@code cuda:0 .. cuda:N-1}.
 *
 * <p>{@link #probe()} first checks with the FFM API that {@code libcuda.so.1} loads, and only then touches JCuda (whose
 * JNI library links against it); every failure on the way (no driver, JCuda's native library missing for this
 * platform, {@code cuInit} refusing, no GPU) becomes one unavailable status with the reason. The result is computed
 * once per provider. Devices open with the allocation mode of the system property {@value AllocMode#PROPERTY}.
 * Thread-safe.
 */
public final class CudaDeviceProvider implements DeviceProvider {
    /** Backend name. */
    public static final String NAME = "cuda";
    private volatile List<DeviceStatus> probed;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<DeviceStatus> probe() {
        List<DeviceStatus> p = probed;
        if (p == null) {
            synchronized (this) {
                p = probed;
                if (p == null) {
                    probed = p = List.copyOf(scan());
                }
            }
        }
        return p;
    }

    /**
     * Why CUDA is unavailable here, or {@code null} if at least one device is available: the reason of the first
     * unavailable status. Tests use it to skip with that reason.
     */
    public String unavailableReason() {
        List<DeviceStatus> s = probe();
        return s.stream().anyMatch(DeviceStatus::available) ? null : s.getFirst().reason();
    }

    private static List<DeviceStatus> scan() {
        String missing = DriverLibrary.missingReason();
        if (missing != null) {
            return List.of(DeviceStatus.unavailable(NAME, NAME, missing));
        }
        try {
            CudaRuntime.init();
            int count = CudaRuntime.deviceCount();
            if (count == 0) {
                return List.of(DeviceStatus.unavailable(NAME, NAME, "the NVIDIA driver reports no CUDA device"));
            }
            String gemm = CublasGemm.libraryName();
            List<DeviceStatus> out = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                CUdevice d = new CUdevice();
                CudaException.check(cuDeviceGet(d, i), "cuDeviceGet(" + i + ")");
                Map<String, String> props = new LinkedHashMap<>(CudaRuntime.deviceProperties(d));
                props.put("allocation", AllocMode.fromSystemProperty().name().toLowerCase(java.util.Locale.ROOT));
                props.put("gemm", gemm != null ? "cuBLAS (" + gemm + ")" : "tiled PTX kernel");
                out.add(DeviceStatus.available("cuda:" + i, NAME, props));
            }
            return out;
        } catch (UnsatisfiedLinkError e) {
            return List.of(DeviceStatus.unavailable(NAME, NAME, "JCuda's native library cannot be loaded: "
                    + e.getMessage()));
        } catch (CudaException e) {
            return List.of(DeviceStatus.unavailable(NAME, NAME, "CUDA driver: " + e.getMessage()));
        } catch (RuntimeException | LinkageError e) {
            return List.of(DeviceStatus.unavailable(NAME, NAME, e.toString()));
        }
    }

    @Override
    public Device open(String id) {
        int ordinal = ordinal(id);
        for (DeviceStatus s : probe()) {
            if (s.id().equals("cuda:" + ordinal)) {
                if (!s.available()) {
                    break;
                }
                try {
                    return new CudaDevice(ordinal);
                } catch (RuntimeException | LinkageError e) {
                    throw new DeviceUnavailableException("cannot open " + id + ": " + e.getMessage(), e);
                }
            }
        }
        String reason = unavailableReason();
        throw new DeviceUnavailableException("device '" + id + "' is unavailable"
                + (reason != null ? ": " + reason : ": no such CUDA device"));
    }

    private static int ordinal(String id) {
        if (id.equals(NAME)) {
            return 0;
        }
        if (id.startsWith(NAME + ":")) {
            try {
                return Integer.parseInt(id.substring(NAME.length() + 1));
            } catch (NumberFormatException e) {
                // fall through
            }
        }
        throw new DeviceUnavailableException("'" + id + "' is not a CUDA device id (cuda or cuda:N)");
    }
}

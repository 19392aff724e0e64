package org.tensorbuffer.cpu;

import java.util.List;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceProvider;
import org.tensorbuffer.device.DeviceStatus;
import org.tensorbuffer.device.DeviceUnavailableException;

/**
 * {@link DeviceProvider} of the one {@code cpu} device. Construction touches no native code; {@link #probe()} binds
 * the C library and reports any failure (for example native access disabled) as an unavailable status.
 */
public final class CpuDeviceProvider implements DeviceProvider {

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public List<DeviceStatus> probe() {
        try {
            CpuDevice probe = new CpuDevice();
            // Allocate and free once: proves that posix_memalign/free are bound and native access is allowed.
            probe.free(probe.allocate(64, 64));
            return List.of(DeviceStatus.available("cpu", name(), probe.properties()));
        } catch (DeviceUnavailableException e) {
            return List.of(DeviceStatus.unavailable("cpu", name(), e.getMessage()));
        } catch (IllegalArgumentException e) {
            // a bad setting (tensorbuffer.cpu.gemm, tensorbuffer.cpu.gemv, the thread count): the message names it
            return List.of(DeviceStatus.unavailable("cpu", name(), e.getMessage()));
        } catch (RuntimeException | LinkageError e) {
            return List.of(DeviceStatus.unavailable("cpu", name(), "cannot use native memory: " + e));
        }
    }

    /**
     * @throws DeviceUnavailableException for any id but {@code cpu}, if the Vector API module is not resolved (the
     *     message names the flag {@code --add-modules jdk.incubator.vector}), or if native memory cannot be used
     */
    @Override
    public Device open(String id) {
        if (!"cpu".equals(id) && !"cpu:0".equals(id)) {
            throw new DeviceUnavailableException("device '" + id + "' is not provided by the cpu backend");
        }
        try {
            return new CpuDevice();
        } catch (DeviceUnavailableException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new DeviceUnavailableException("device 'cpu' cannot be opened: " + e.getMessage(), e);
        } catch (RuntimeException | LinkageError e) {
            throw new DeviceUnavailableException("device 'cpu' cannot be opened: " + e, e);
        }
    }
}

package org.tensorbuffer.meta;

import java.util.List;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceProvider;
import org.tensorbuffer.device.DeviceStatus;
import org.tensorbuffer.device.DeviceUnavailableException;

/** Provides the {@link MetaDevice} ({@code meta}); always available, it needs no driver. */
public final class MetaDeviceProvider implements DeviceProvider {
    /** For {@link java.util.ServiceLoader}. */
    public MetaDeviceProvider() {
    }

    @Override
    public String name() {
        return MetaDevice.ID;
    }

    @Override
    public List<DeviceStatus> probe() {
        return List.of(DeviceStatus.available(MetaDevice.ID, MetaDevice.ID,
                java.util.Map.of("memory", "none (sizes only)")));
    }

    @Override
    public Device open(String id) {
        if (!id.equals(MetaDevice.ID)) {
            throw new DeviceUnavailableException("the meta backend has no device '" + id + "'");
        }
        return new MetaDevice();
    }
}

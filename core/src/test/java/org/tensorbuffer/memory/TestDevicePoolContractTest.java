package org.tensorbuffer.memory;

import org.tensorbuffer.device.Device;
import org.tensorbuffer.testing.TestDevice;

class TestDevicePoolContractTest extends PoolContractTest {
    private final TestDevice device = new TestDevice();

    @Override
    protected Device device() {
        return device;
    }
}

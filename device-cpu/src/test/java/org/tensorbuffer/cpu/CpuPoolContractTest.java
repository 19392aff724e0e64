package org.tensorbuffer.cpu;

import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.memory.PoolContractTest;

/** The shared pool contract on the CPU device. */
class CpuPoolContractTest extends PoolContractTest {
    @Override
    protected Device device() {
        return Devices.get("cpu");
    }
}

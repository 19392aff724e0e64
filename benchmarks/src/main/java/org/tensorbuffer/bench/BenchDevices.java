package org.tensorbuffer.bench;

import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.Devices;

/** The device the benchmarks run on: {@code -Dtensorbuffer.bench.device=ID} (default {@code cpu}). */
final class BenchDevices {
    private BenchDevices() {
    }

    /** The benchmark device, opened through {@link Devices#get(String)}. */
    static Device device() {
        return Devices.get(System.getProperty("tensorbuffer.bench.device", "cpu"));
    }
}

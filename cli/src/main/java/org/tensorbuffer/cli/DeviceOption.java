package org.tensorbuffer.cli;

import picocli.CommandLine.Option;

/** picocli mixin: the {@code --device} option that the workload commands share. */
final class DeviceOption {
    @Option(names = "--device", paramLabel = "ID", defaultValue = "cpu",
            description = "Device id from `tensorbuffer devices`, e.g. cpu, cuda:0, metal (default: ${DEFAULT-VALUE}).")
    String device;
}

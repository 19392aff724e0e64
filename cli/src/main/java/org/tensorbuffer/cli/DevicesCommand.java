package org.tensorbuffer.cli;

import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.tensorbuffer.device.DeviceStatus;
import org.tensorbuffer.device.Devices;
import picocli.CommandLine.Command;

/** {@code tensorbuffer devices}: every device the backends found, and why the others are unavailable. */
@Command(name = "devices", mixinStandardHelpOptions = true,
        description = "List devices and backends; unavailable ones with the reason.")
final class DevicesCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        for (DeviceStatus s : Devices.available()) {
            if (s.available()) {
                System.out.printf("%-10s available   (%s backend)%n", s.id(), s.backend());
                new TreeMap<>(s.properties()).forEach((k, v) -> System.out.printf("    %-28s %s%n", k, v));
            } else {
                System.out.printf("%-10s unavailable (%s backend): %s%n", s.id(), s.backend(), s.reason());
            }
        }
        return 0;
    }
}

package org.tensorbuffer.cpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The CPU as Linux's {@code /proc/cpuinfo} describes it, read once per process and shared by the choices made from it
 * ({@link BlasCore}: OpenBLAS's core from the flags; {@link GemvChoice}: the GEMV from the vendor). Fields are those of
 * the first processor listed. Where the file cannot be read (not Linux) {@link #text()} is null. Thread-safe.
 */
final class CpuInfo {
    private CpuInfo() {
    }

    /** The text of {@code /proc/cpuinfo}, read on the first call, or null where it cannot be read. */
    static String text() {
        return Text.VALUE;
    }

    /** The flags of the first {@code flags} line of {@code /proc/cpuinfo} text, lower case; empty without one. */
    static Set<String> flags(String cpuinfo) {
        String f = field(cpuinfo, "flags");
        return f == null ? Set.of() : Arrays.stream(f.split("\\s+")).map(s -> s.toLowerCase(Locale.ROOT))
                .collect(Collectors.toSet());
    }

    /** The first {@code vendor_id} of {@code /proc/cpuinfo} text (e.g. {@code AuthenticAMD}), or null. */
    static String vendor(String cpuinfo) {
        return field(cpuinfo, "vendor_id");
    }

    /** The value after the colon of the first line starting with {@code name}, trimmed, or null. */
    private static String field(String cpuinfo, String name) {
        for (String line : cpuinfo.split("\n")) {
            if (line.startsWith(name)) {
                return line.substring(line.indexOf(':') + 1).trim();
            }
        }
        return null;
    }

    private static final class Text {
        static final String VALUE = read();

        private static String read() {
            try {
                Path p = Path.of("/proc/cpuinfo");
                return Files.isReadable(p) ? Files.readString(p) : null;
            } catch (IOException | SecurityException e) {
                return null;
            }
        }
    }
}

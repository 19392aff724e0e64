package org.tensorbuffer.bench;

import org.tensorbuffer.observe.ByteUnits;

/** Human-readable numbers for the benchmark summary and the report. */
public final class Format {
    private Format() {
    }

    /** {@code 64 B}, {@code 4 KiB}, {@code 256 KiB}, {@code 16 MiB}, {@code 1.5 MiB}. */
    public static String bytes(double b) {
        return ByteUnits.format(b);
    }

    /** Nanoseconds with a sensible number of digits and unit (ns, us, ms, s). */
    public static String ns(double ns) {
        if (Double.isNaN(ns)) {
            return "n/a";
        }
        if (ns < 10) {
            return String.format("%.2f ns", ns);
        }
        if (ns < 1_000) {
            return String.format("%.1f ns", ns);
        }
        if (ns < 1_000_000) {
            return String.format("%.2f us", ns / 1e3);
        }
        if (ns < 1_000_000_000) {
            return String.format("%.2f ms", ns / 1e6);
        }
        return String.format("%.2f s", ns / 1e9);
    }
}

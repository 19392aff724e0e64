package org.tensorbuffer.observe;

import java.util.Locale;

/**
 * Byte counts for people: binary (IEC) units, as the statistics, timelines and reports print them. Thread-safe (pure).
 */
public final class ByteUnits {
    private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

    private ByteUnits() {
    }

    /**
     * {@code bytes} in the largest unit that keeps the number at least 1: whole numbers without decimals, others
     * with one ({@code 64 B}, {@code 4 KiB}, {@code 1.5 MiB}, {@code -2 KiB}); {@code Locale.ROOT} digits.
     */
    public static String format(double bytes) {
        double v = bytes;
        int u = 0;
        while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
            v /= 1024;
            u++;
        }
        String number = v == Math.rint(v) ? String.valueOf((long) v) : String.format(Locale.ROOT, "%.1f", v);
        return number + " " + UNITS[u];
    }
}

package org.tensorbuffer.chart;

import java.util.Locale;

/**
 * Round ("nice") tick values for a linear chart axis that starts at 0: steps of 1, 2, 2.5 or 5 times a power of ten
 * (Heckbert, "Nice numbers for graph labels", Graphics Gems, 1990), and the same for byte axes in the binary unit the
 * labels use (B, KiB, MiB or GiB), so that 284 MiB gets ticks at 0, 100, 200 and 300 MiB rather than at max/4.
 * Stateless and thread-safe.
 */
public final class AxisTicks {
    private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB"};

    private AxisTicks() {
    }

    /**
     * Tick values from 0 covering {@code max}: about {@code target} equal steps of 1, 2, 2.5 or 5 times a power of ten
     * (the smallest such step that gives at most {@code target} steps); the last tick is at or above {@code max}.
     *
     * @param max    the largest value to show; {@code 0}, negative or NaN give {@code {0, 1}}
     * @param target the wanted number of steps, at least 1
     * @return the ticks, ascending, starting at 0
     * @throws IllegalArgumentException if {@code target < 1}
     */
    public static double[] nice(double max, int target) {
        if (target < 1) {
            throw new IllegalArgumentException("tick target " + target + " is not positive");
        }
        if (!(max > 0) || Double.isInfinite(max)) {
            return new double[] {0, 1};
        }
        double step = step(max / target);
        int n = (int) Math.ceil(max / step - 1e-9);
        double[] t = new double[n + 1];
        for (int i = 0; i <= n; i++) {
            t[i] = i * step;
        }
        return t;
    }

    /** The smallest step of 1, 2, 2.5 or 5 times a power of ten that is at least {@code raw} (> 0). */
    static double step(double raw) {
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double k : new double[] {1, 2, 2.5, 5}) {
            if (k * mag >= raw * (1 - 1e-12)) {
                return k * mag;
            }
        }
        return 10 * mag;
    }

    /**
     * {@link #nice} for a byte axis, round in the unit its labels use ({@link #byteUnit}): the ticks are in bytes.
     *
     * @param maxBytes the largest byte value to show
     * @param target   the wanted number of steps, at least 1
     */
    public static double[] bytes(double maxBytes, int target) {
        double unit = unitBytes(byteUnit(maxBytes));
        double[] t = nice(maxBytes / unit, target);
        for (int i = 0; i < t.length; i++) {
            t[i] *= unit;
        }
        return t;
    }

    /** The unit of a byte axis whose top is {@code maxBytes}: {@code B}, {@code KiB}, {@code MiB}, ... (1024-based). */
    public static String byteUnit(double maxBytes) {
        int u = 0;
        while (u < UNITS.length - 1 && maxBytes >= Math.pow(1024, u + 1)) {
            u++;
        }
        return UNITS[u];
    }

    /**
     * Bytes in one {@code unit}.
     *
     * @throws IllegalArgumentException if {@code unit} is not one of {@code B, KiB, MiB, GiB, TiB}
     */
    public static double unitBytes(String unit) {
        for (int u = 0; u < UNITS.length; u++) {
            if (UNITS[u].equals(unit)) {
                return Math.pow(1024, u);
            }
        }
        throw new IllegalArgumentException("unknown byte unit '" + unit + "'");
    }

    /** A byte tick label in {@code unit}: {@code "2.5 MiB"}, {@code "0 MiB"}. */
    public static String byteLabel(double bytes, String unit) {
        return label(bytes / unitBytes(unit)) + " " + unit;
    }

    /** A tick value with at most two decimals and no trailing zeros: {@code 2.5}, {@code 100}, {@code 0.25}. */
    public static String label(double v) {
        String s = String.format(Locale.ROOT, "%.2f", v);
        s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
        return s.equals("-0") ? "0" : s;
    }
}

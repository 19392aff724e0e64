package org.tensorbuffer.bench;

/** Human-readable numbers for the benchmark summary and the report. */
public final class Format {
    private Format() {
    }

    /** {@code 64 B}, {@code 4 KiB}, {@code 256 KiB}, {@code 16 MiB}, {@code 1.5 MiB}. */
    public static String bytes(double b) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int u = 0;
        while (Math.abs(b) >= 1024 && u < units.length - 1) {
            b /= 1024;
            u++;
        }
        return (b == Math.rint(b) ? String.valueOf((long) b) : String.format("%.1f", b)) + " " + units[u];
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

package org.tensorbuffer.cpu;

import java.util.Locale;

/**
 * Which GEMV runs a float32 matrix-vector product whose matrix is large enough to stream from memory (at least
 * {@link #MIN_ELEMENTS} elements: the decode's weight matrices from the stories15M shape up) when OpenBLAS is loaded:
 * OpenBLAS's {@code sgemv} or the Vector API's {@link GemvF32}. Smaller matrices, read from the caches, keep OpenBLAS
 * (measured ahead there: docs/benchmarks.md, issue 14, "Round 7: the GEMV").
 *
 * <p>The system property {@code tensorbuffer.cpu.gemv} decides:
 * <ul>
 *   <li>{@code auto} (default): {@link GemvF32} on AMD CPUs ({@code vendor_id} {@code AuthenticAMD} in
 *       {@code /proc/cpuinfo}), OpenBLAS elsewhere. On the 2-core Zen 5 EPYC, OpenBLAS 0.3.21's {@code sgemv}
 *       streamed matrices of 192-2048-wide rows from memory at 14.6-28 GB/s against 25-37 for {@link GemvF32} (and was
 *       behind a plain loop in C under its Haswell, SkylakeX and Zen cores alike), and the warm 1-thread decode ran
 *       1.22x (stories15M shape) and 1.16x (GQA 38M shape) faster with {@link GemvF32}, in one interleaved run
 *       (docs/benchmarks.md, issue 14, "Round 12: the GEMV on Zen 5"); on the Intel machine of round 7 OpenBLAS was
 *       4-20% ahead;</li>
 *   <li>{@code java}: {@link GemvF32};</li>
 *   <li>{@code openblas}: OpenBLAS.</li>
 * </ul>
 * The choice depends on the matrix's size only, never on the thread count, so a product gives the same bits on every
 * thread count. Without OpenBLAS every product runs {@link GemvF32} anyway; with {@code tensorbuffer.cpu.gemm=openblas}
 * every product runs one {@code cblas_sgemv}. Immutable and thread-safe.
 */
final class GemvChoice {
    /** Matrices with at least this many elements (256 KiB of float32) are "large". */
    static final long MIN_ELEMENTS = 1 << 16;

    private final boolean javaForLarge;
    private final String description;

    private GemvChoice(boolean javaForLarge, String description) {
        this.javaForLarge = javaForLarge;
        this.description = description;
    }

    /**
     * The choice for the setting and CPU vendor.
     *
     * @param setting {@code auto}, {@code java} or {@code openblas} (case and surrounding blanks ignored); null or
     *                blank is {@code auto}
     * @param vendor  the CPU's {@code vendor_id}, or null when unknown
     * @throws IllegalArgumentException for another setting (the message names the property and the value)
     */
    static GemvChoice of(String setting, String vendor) {
        String v = setting == null ? "auto" : setting.trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "auto", "" -> "AuthenticAMD".equals(vendor)
                    ? new GemvChoice(true, "Vector API for matrices from " + MIN_ELEMENTS
                            + " elements (auto: AMD CPU), OpenBLAS below")
                    : new GemvChoice(false, "OpenBLAS (auto: " + (vendor == null ? "CPU vendor unknown" : vendor)
                            + ")");
            case "java" -> new GemvChoice(true, "Vector API for matrices from " + MIN_ELEMENTS
                    + " elements (tensorbuffer.cpu.gemv=java), OpenBLAS below");
            case "openblas" -> new GemvChoice(false, "OpenBLAS (tensorbuffer.cpu.gemv=openblas)");
            default -> throw new IllegalArgumentException("tensorbuffer.cpu.gemv must be auto, java or openblas, got '"
                    + setting + "'");
        };
    }

    /**
     * The choice of the system property {@code tensorbuffer.cpu.gemv} on this machine's CPU.
     *
     * @throws IllegalArgumentException if the property has another value than {@code auto}, {@code java} or
     *                                  {@code openblas}
     */
    static GemvChoice fromSystemProperty() {
        String cpuinfo = CpuInfo.text();
        return of(System.getProperty("tensorbuffer.cpu.gemv"), cpuinfo == null ? null : CpuInfo.vendor(cpuinfo));
    }

    /** Whether a matrix of {@code elements} elements runs {@link GemvF32} when OpenBLAS is loaded. */
    boolean java(long elements) {
        return javaForLarge && elements >= MIN_ELEMENTS;
    }

    /** E.g. {@code Vector API for matrices from 65536 elements (auto: AMD CPU), OpenBLAS below}. */
    String description() {
        return description;
    }
}

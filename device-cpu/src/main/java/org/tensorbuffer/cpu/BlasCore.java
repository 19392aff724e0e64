package org.tensorbuffer.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.Set;

/**
 * Which of OpenBLAS's per-CPU kernel sets ("core") the process loads, decided before {@link OpenBlas} loads the
 * library. A {@code DYNAMIC_ARCH} OpenBLAS (Debian's {@code libopenblas0}) picks its core once, when it is loaded, from
 * the environment variable {@code OPENBLAS_CORETYPE} or else from {@code cpuid} (0.3.21 finds {@code Cooperlake} on a
 * Zen 5 EPYC). Machines are often configured with {@code OPENBLAS_CORETYPE=Haswell}, so that on a CPU with AVX-512 it
 * runs 256-bit kernels: on a 2-core AMD EPYC (Zen 5) its {@code dgemm} ran at 39.7 GF/s with the Haswell core against
 * 76.3 GF/s with SkylakeX's AVX-512 kernels (990 x 4620 x 2187, one thread; docs/benchmarks.md, issue 14, "Round 11:
 * OpenBLAS core").
 *
 * <p>The system property {@code tensorbuffer.cpu.blasCore} decides:
 * <ul>
 *   <li>{@code auto} (default): {@code SkylakeX} when the CPU has AVX-512 F, DQ, BW and VL (the instructions of
 *       OpenBLAS's SkylakeX kernels; read from {@code /proc/cpuinfo}, so Linux only) and {@code OPENBLAS_CORETYPE}
 *       names a core without AVX-512; otherwise OpenBLAS's own choice (the variable's core, or {@code cpuid}'s);
 *   <li>{@code keep}: OpenBLAS's own choice ({@code OPENBLAS_CORETYPE} or {@code cpuid});
 *   <li>a core name ({@code SkylakeX}, {@code Haswell}, ...): that core, as {@code OPENBLAS_CORETYPE} would set it.
 * </ul>
 * A choice is applied by setting {@code OPENBLAS_CORETYPE} in the process environment ({@code setenv}) before the
 * library is loaded; it has no effect when something in the process loaded OpenBLAS before. {@link OpenBlas} reports
 * the core the library actually runs ({@code openblas_get_corename}) together with {@link #reason()}.
 *
 * <p>Bad input: OpenBLAS ignores a core name it does not know and makes its own choice (its behaviour for an unknown
 * {@code OPENBLAS_CORETYPE}); the reason says that this can happen, and the reported core is the one that runs.
 * Thread-safe: {@link #apply()} runs once, from {@link OpenBlas}'s class initialisation.
 */
final class BlasCore {
    /** OpenBLAS x86-64 core names (lower case) whose kernels use AVX-512. */
    private static final Set<String> AVX512_CORES = Set.of("skylakex", "cooperlake", "sapphirerapids");
    /** The CPU flags OpenBLAS's SkylakeX kernels need. */
    private static final Set<String> AVX512_FLAGS = Set.of("avx512f", "avx512dq", "avx512bw", "avx512vl");

    private static volatile String reason = "not applied";

    private BlasCore() {
    }

    /**
     * The core to ask for, or null to leave OpenBLAS's choice, with the reason in {@code why[0]}.
     *
     * @param setting the property's value ({@code auto}, {@code keep} or a core name)
     * @param env {@code OPENBLAS_CORETYPE}, or null when unset
     * @param cpuFlags the CPU's flags (lower case), or null when unknown
     */
    static String choose(String setting, String env, Set<String> cpuFlags, String[] why) {
        String s = setting == null ? "auto" : setting.trim();
        if (s.isEmpty() || s.equalsIgnoreCase("auto")) {
            boolean avx512 = cpuFlags != null && cpuFlags.containsAll(AVX512_FLAGS);
            if (!avx512) {
                why[0] = "OpenBLAS's choice (" + (cpuFlags == null ? "CPU flags unknown" : "no AVX-512 F/DQ/BW/VL")
                        + ")";
                return null;
            }
            if (env == null || env.isBlank()) {
                why[0] = "OpenBLAS's choice (OPENBLAS_CORETYPE unset: its cpuid detection)";
                return null;
            }
            if (AVX512_CORES.contains(env.trim().toLowerCase(Locale.ROOT))) {
                why[0] = "OPENBLAS_CORETYPE=" + env.trim();
                return null;
            }
            why[0] = "auto: the CPU has AVX-512 F/DQ/BW/VL; OPENBLAS_CORETYPE=" + env.trim()
                    + " overridden, -Dtensorbuffer.cpu.blasCore=keep keeps it";
            return "SkylakeX";
        }
        if (s.equalsIgnoreCase("keep")) {
            why[0] = env == null || env.isBlank() ? "OpenBLAS's choice (tensorbuffer.cpu.blasCore=keep)"
                    : "OPENBLAS_CORETYPE=" + env.trim() + " (tensorbuffer.cpu.blasCore=keep)";
            return null;
        }
        why[0] = "tensorbuffer.cpu.blasCore=" + s + " (OpenBLAS makes its own choice for a name it does not know)";
        return s;
    }

    /**
     * Decides from the system property, the environment and the CPU, and sets {@code OPENBLAS_CORETYPE} for the
     * OpenBLAS about to be loaded. Never throws; {@link #reason()} says what was done.
     */
    static void apply() {
        try {
            String[] why = new String[1];
            String cpuinfo = CpuInfo.text();
            String core = choose(System.getProperty("tensorbuffer.cpu.blasCore"), System.getenv("OPENBLAS_CORETYPE"),
                    cpuinfo == null ? null : CpuInfo.flags(cpuinfo), why);
            if (core != null && !setenv("OPENBLAS_CORETYPE", core)) {
                why[0] += "; setenv failed, OpenBLAS's choice";
            }
            reason = why[0];
        } catch (Throwable e) {
            reason = "OpenBLAS's choice (" + e.getMessage() + ")";
        }
    }

    /** Why the loaded core was chosen, e.g. {@code auto: the CPU has AVX-512 ...}. */
    static String reason() {
        return reason;
    }

    private static boolean setenv(String name, String value) throws Throwable {
        Linker linker = Linker.nativeLinker();
        var f = linker.defaultLookup().find("setenv");
        if (f.isEmpty()) {
            return false;
        }
        var h = linker.downcallHandle(f.get(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        try (Arena a = Arena.ofConfined()) {
            return (int) h.invokeExact(a.allocateFrom(name), a.allocateFrom(value), 1) == 0;
        }
    }
}

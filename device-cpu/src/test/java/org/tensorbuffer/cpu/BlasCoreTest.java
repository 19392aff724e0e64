package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@link BlasCore}: which OpenBLAS core the process asks for, and that the loaded library runs it. */
class BlasCoreTest {
    private static final Set<String> AVX512 = Set.of("fma", "avx2", "avx512f", "avx512dq", "avx512bw", "avx512vl");
    private static final Set<String> AVX2 = Set.of("fma", "avx2");

    private static String choose(String setting, String env, Set<String> flags) {
        return BlasCore.choose(setting, env, flags, new String[1]);
    }

    @Test
    void autoAsksForSkylakeXWhereTheEnvironmentNamesAnAvx2CoreOnAnAvx512Cpu() {
        String[] why = new String[1];
        assertThat(BlasCore.choose("auto", "Haswell", AVX512, why)).isEqualTo("SkylakeX");
        assertThat(why[0]).contains("OPENBLAS_CORETYPE=Haswell overridden").contains("blasCore=keep");
        assertThat(choose(null, "Zen", AVX512)).isEqualTo("SkylakeX");
    }

    @Test
    void autoLeavesOpenBlasAloneWithoutAvx512OrWhereItChoosesItself() {
        assertThat(choose("auto", "Haswell", AVX2)).isNull();
        assertThat(choose("auto", null, null)).isNull();
        // A missing one of the four flags is enough (AVX-512 F alone, as on Knights Landing).
        assertThat(choose("auto", "Haswell", Set.of("avx512f", "avx512cd"))).isNull();
        // Unset: OpenBLAS's cpuid detection (0.3.21 finds Cooperlake on a Zen 5 EPYC).
        assertThat(choose("auto", null, AVX512)).isNull();
        assertThat(choose("auto", " ", AVX512)).isNull();
        // An AVX-512 core in the environment is kept.
        assertThat(choose("", "cooperlake", AVX512)).isNull();
    }

    @Test
    void keepAndExplicitCoresAreHonoured() {
        String[] why = new String[1];
        assertThat(BlasCore.choose("keep", "Haswell", AVX512, why)).isNull();
        assertThat(why[0]).isEqualTo("OPENBLAS_CORETYPE=Haswell (tensorbuffer.cpu.blasCore=keep)");
        assertThat(BlasCore.choose(" Zen ", "SkylakeX", AVX512, why)).isEqualTo("Zen");
        assertThat(why[0]).startsWith("tensorbuffer.cpu.blasCore=Zen (");
    }

    @Test
    void flagsAreReadFromTheFirstFlagsLineOfCpuinfo() {
        String cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu FMA avx2 avx512f avx512f\n"
                + "flags\t\t: other\n";
        assertThat(CpuInfo.flags(cpuinfo)).containsExactlyInAnyOrder("fpu", "fma", "avx2", "avx512f");
        assertThat(CpuInfo.flags("processor : 0\n")).isEmpty();
    }

    /**
     * Where {@code auto} asks for a core on this machine (e.g. SkylakeX on an AVX-512 CPU under
     * {@code OPENBLAS_CORETYPE=Haswell}), the loaded OpenBLAS runs it and binds its {@code sgemv_t} kernel.
     */
    @Test
    void theLoadedLibraryRunsTheChosenCore() throws Exception {
        Path p = Path.of("/proc/cpuinfo");
        assumeTrue(Files.isReadable(p), "no /proc/cpuinfo");
        assumeTrue(System.getProperty("tensorbuffer.cpu.blasCore") == null, "tensorbuffer.cpu.blasCore is set");
        String chosen = choose(null, System.getenv("OPENBLAS_CORETYPE"), CpuInfo.flags(Files.readString(p)));
        assumeTrue(chosen != null, "auto leaves OpenBLAS's choice on this machine");
        var blas = OpenBlas.load();
        assumeTrue(blas.isPresent(), "no OpenBLAS");
        assertThat(blas.get().coreName()).isEqualToIgnoringCase(chosen);
        assertThat(blas.get().coreDescription()).startsWith(blas.get().coreName() + " core: auto: ");
        assertThat(blas.get().sgemvKernelName()).isEqualTo("sgemv_t_" + chosen.toUpperCase(Locale.ROOT));
    }
}

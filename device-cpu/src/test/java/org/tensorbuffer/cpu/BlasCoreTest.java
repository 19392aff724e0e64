package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@link BlasCore}: which OpenBLAS core the process asks for, and that the loaded library runs it. */
class BlasCoreTest {
    private static final Set<String> AVX512 = Set.of("fma", "avx2", "avx512f", "avx512dq", "avx512bw", "avx512vl");
    private static final Set<String> AVX2 = Set.of("fma", "avx2");

    private static String choose(String setting, String env, Set<String> flags, boolean amd) {
        return BlasCore.choose(setting, env, flags, amd, new String[1]);
    }

    @Test
    void autoAsksForSkylakeXWhereTheEnvironmentNamesAnAvx2CoreOnAnAvx512Cpu() {
        String[] why = new String[1];
        assertThat(BlasCore.choose("auto", "Haswell", AVX512, true, why)).isEqualTo("SkylakeX");
        assertThat(why[0]).contains("OPENBLAS_CORETYPE=Haswell overridden").contains("blasCore=keep");
        assertThat(choose(null, "Zen", AVX512, false)).isEqualTo("SkylakeX");
        // Unset on AMD: OpenBLAS 0.3.21 would pick an AVX2 core for Zen 4/5.
        assertThat(choose("auto", null, AVX512, true)).isEqualTo("SkylakeX");
    }

    @Test
    void autoLeavesOpenBlasAloneWithoutAvx512OrWhereItDetectsItItself() {
        assertThat(choose("auto", "Haswell", AVX2, true)).isNull();
        assertThat(choose("auto", null, null, true)).isNull();
        // A missing one of the four flags is enough (AVX-512 F alone, as on Knights Landing).
        assertThat(choose("auto", "Haswell", Set.of("avx512f", "avx512cd"), false)).isNull();
        // Unset on Intel: OpenBLAS's cpuid detection knows its AVX-512 CPUs.
        assertThat(choose("auto", null, AVX512, false)).isNull();
        // An AVX-512 core in the environment is kept.
        assertThat(choose("", "cooperlake", AVX512, true)).isNull();
    }

    @Test
    void keepAndExplicitCoresAreHonoured() {
        String[] why = new String[1];
        assertThat(BlasCore.choose("keep", "Haswell", AVX512, true, why)).isNull();
        assertThat(why[0]).isEqualTo("OPENBLAS_CORETYPE=Haswell (tensorbuffer.cpu.blasCore=keep)");
        assertThat(choose(" Zen ", "SkylakeX", AVX512, true)).isEqualTo("Zen");
    }

    @Test
    void flagsAreReadFromTheFirstFlagsLineOfCpuinfo() {
        String cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu FMA avx2 avx512f avx512f\n"
                + "flags\t\t: other\n";
        assertThat(BlasCore.flags(cpuinfo)).containsExactlyInAnyOrder("fpu", "fma", "avx2", "avx512f");
        assertThat(BlasCore.flags("processor : 0\n")).isEmpty();
    }

    /** On a Linux AMD CPU with AVX-512 and no setting, the loaded OpenBLAS runs the SkylakeX kernels. */
    @Test
    void theLoadedLibraryRunsTheChosenCore() throws Exception {
        Path p = Path.of("/proc/cpuinfo");
        assumeTrue(Files.isReadable(p), "no /proc/cpuinfo");
        String cpuinfo = Files.readString(p);
        assumeTrue(cpuinfo.contains("AuthenticAMD") && BlasCore.flags(cpuinfo).containsAll(AVX512),
                "not an AMD CPU with AVX-512");
        assumeTrue(System.getProperty("tensorbuffer.cpu.blasCore") == null, "tensorbuffer.cpu.blasCore is set");
        var blas = OpenBlas.load();
        assumeTrue(blas.isPresent(), "no OpenBLAS");
        assertThat(blas.get().coreName()).isEqualToIgnoringCase("SkylakeX");
        assertThat(blas.get().coreDescription()).startsWith(blas.get().coreName() + " core: auto: ");
        assertThat(blas.get().sgemvKernelName()).isEqualTo("sgemv_t_SKYLAKEX");
    }
}

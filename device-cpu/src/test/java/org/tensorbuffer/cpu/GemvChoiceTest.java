package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The rules of {@link GemvChoice}: the setting, the CPU vendor, the size threshold, and bad input. */
class GemvChoiceTest {
    private static final long LARGE = GemvChoice.MIN_ELEMENTS;

    @Test
    void autoTakesTheVectorApiForLargeMatricesOnAmdOnly() {
        GemvChoice amd = GemvChoice.of("auto", "AuthenticAMD");
        assertThat(amd.java(LARGE)).isTrue();
        assertThat(amd.java(LARGE - 1)).isFalse();
        assertThat(amd.description()).contains("auto: AMD CPU").contains("65536");
        assertThat(GemvChoice.of(null, "AuthenticAMD").java(LARGE)).isTrue();
        assertThat(GemvChoice.of(" ", "AuthenticAMD").java(LARGE)).isTrue();
        GemvChoice intel = GemvChoice.of("auto", "GenuineIntel");
        assertThat(intel.java(1L << 30)).isFalse();
        assertThat(intel.description()).isEqualTo("OpenBLAS (auto: GenuineIntel)");
        assertThat(GemvChoice.of("auto", null).java(1L << 30)).isFalse();
        assertThat(GemvChoice.of("auto", null).description()).contains("CPU vendor unknown");
    }

    @Test
    void explicitSettingsIgnoreTheVendor() {
        assertThat(GemvChoice.of("java", "GenuineIntel").java(LARGE)).isTrue();
        assertThat(GemvChoice.of(" Java ", null).java(LARGE - 1)).isFalse();
        assertThat(GemvChoice.of("OPENBLAS", "AuthenticAMD").java(1L << 30)).isFalse();
        assertThat(GemvChoice.of("openblas", "AuthenticAMD").description())
                .isEqualTo("OpenBLAS (tensorbuffer.cpu.gemv=openblas)");
    }

    @Test
    void badSettingIsNamedInOneLine() {
        assertThatThrownBy(() -> GemvChoice.of("fast", "AuthenticAMD"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("tensorbuffer.cpu.gemv must be auto, java or openblas, got 'fast'");
    }

    @Test
    void vendorIsTheFirstVendorIdLine() {
        String cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\n\nprocessor\t: 1\n"
                + "vendor_id\t: GenuineIntel\n";
        assertThat(CpuInfo.vendor(cpuinfo)).isEqualTo("AuthenticAMD");
        assertThat(CpuInfo.vendor("processor\t: 0\nflags\t: fpu\n")).isNull();
    }
}

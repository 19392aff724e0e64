package org.tensorbuffer.chart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class AxisTicksTest {
    private static final double MIB = 1024 * 1024;

    @Test
    void ticksAreRoundStepsFromZeroCoveringTheMaximum() {
        assertThat(AxisTicks.nice(284.0, 5)).containsExactly(0, 100, 200, 300);
        assertThat(AxisTicks.nice(9.3, 5)).containsExactly(0, 2, 4, 6, 8, 10);
        assertThat(AxisTicks.nice(0.9, 4)).containsExactly(0, 0.25, 0.5, 0.75, 1.0);
        assertThat(AxisTicks.nice(4, 10)).containsExactly(0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4);
        assertThat(AxisTicks.nice(100, 5)).containsExactly(0, 20, 40, 60, 80, 100); // exact top, no extra tick
        assertThat(AxisTicks.nice(0, 5)).containsExactly(0, 1);
        assertThat(AxisTicks.nice(Double.NaN, 5)).containsExactly(0, 1);
    }

    @Test
    void everyStepIsOneTwoTwoAndAHalfOrFiveTimesAPowerOfTen() {
        for (double max = 0.003; max < 1e7; max *= 1.37) {
            double[] t = AxisTicks.nice(max, 6);
            double step = t[1] - t[0];
            double mantissa = step / Math.pow(10, Math.floor(Math.log10(step) + 1e-9));
            assertThat(mantissa).as("step %s for max %s", step, max)
                    .satisfiesAnyOf(m -> assertThat(m).isCloseTo(1, org.assertj.core.data.Offset.offset(1e-6)),
                            m -> assertThat(m).isCloseTo(2, org.assertj.core.data.Offset.offset(1e-6)),
                            m -> assertThat(m).isCloseTo(2.5, org.assertj.core.data.Offset.offset(1e-6)),
                            m -> assertThat(m).isCloseTo(5, org.assertj.core.data.Offset.offset(1e-6)));
            assertThat(t.length - 1).isBetween(1, 6);
            assertThat(t[t.length - 1]).isGreaterThanOrEqualTo(max * (1 - 1e-9));
            assertThat(t[t.length - 2]).isLessThan(max);
        }
    }

    @Test
    void byteTicksAreRoundInTheLabelUnit() {
        // 284 MiB: 0, 100, 200, 300 MiB, not max/4 = 71 MiB steps.
        assertThat(AxisTicks.bytes(284 * MIB, 5)).containsExactly(0, 100 * MIB, 200 * MIB, 300 * MIB);
        assertThat(AxisTicks.byteUnit(284 * MIB)).isEqualTo("MiB");
        assertThat(AxisTicks.byteUnit(1023)).isEqualTo("B");
        assertThat(AxisTicks.byteUnit(1024)).isEqualTo("KiB");
        assertThat(AxisTicks.byteUnit(3.0 * 1024 * MIB)).isEqualTo("GiB");
        assertThat(AxisTicks.byteLabel(2.5 * MIB, "MiB")).isEqualTo("2.5 MiB");
        assertThat(AxisTicks.label(0.25)).isEqualTo("0.25");
        assertThat(AxisTicks.label(100)).isEqualTo("100");
        assertThatThrownBy(() -> AxisTicks.unitBytes("MB")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'MB'");
    }

    @Test
    void titlesWrapAtSpaces() {
        assertThat(TitleWrap.wrap("aaa bbb ccc ddd", 7)).containsExactly("aaa bbb", "ccc ddd");
        assertThat(TitleWrap.wrap("  a   averyverylongword b ", 5)).containsExactly("a", "averyverylongword", "b");
        assertThat(TitleWrap.wrap("", 5)).isEmpty();
    }
}

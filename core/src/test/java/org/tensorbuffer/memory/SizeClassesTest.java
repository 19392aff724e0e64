package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SizeClassesTest {
    @Test
    void smallRequestsRoundToMultiplesOf64() {
        assertThat(SizeClasses.roundUp(0)).isEqualTo(64);
        assertThat(SizeClasses.roundUp(1)).isEqualTo(64);
        assertThat(SizeClasses.roundUp(64)).isEqualTo(64);
        assertThat(SizeClasses.roundUp(65)).isEqualTo(128);
        assertThat(SizeClasses.roundUp(500)).isEqualTo(512);
        assertThat(SizeClasses.roundUp(512)).isEqualTo(512);
    }

    @Test
    void largerRequestsUseFourClassesPerDoubling() {
        // jemalloc / Netty groups: (512, 1024] -> 640, 768, 896, 1024
        assertThat(SizeClasses.roundUp(513)).isEqualTo(640);
        assertThat(SizeClasses.roundUp(641)).isEqualTo(768);
        assertThat(SizeClasses.roundUp(1000)).isEqualTo(1024);
        assertThat(SizeClasses.roundUp(1025)).isEqualTo(1280);
        assertThat(SizeClasses.roundUp(4096)).isEqualTo(4096);
        assertThat(SizeClasses.roundUp(5000)).isEqualTo(5120);
        assertThat(SizeClasses.roundUp(16L << 20)).isEqualTo(16L << 20);
        assertThat(SizeClasses.roundUp((16L << 20) + 1)).isEqualTo(20L << 20);
        assertThat(SizeClasses.roundUp(1L << 62)).isEqualTo(1L << 62);
    }

    @Test
    void everySizeMapsToTheSmallestClassThatHoldsIt() {
        long prev = 0;
        for (int i = 0; i < SizeClasses.COUNT; i++) {
            long s = SizeClasses.size(i);
            if (s > (1L << 62) || s <= 0) {
                break;
            }
            assertThat(s).isGreaterThan(prev);
            assertThat(SizeClasses.index(s)).isEqualTo(i);
            assertThat(SizeClasses.index(prev + 1)).isEqualTo(i);
            // waste bound: at most 25% above the request beyond the 64-byte quantum
            if (prev >= 512) {
                assertThat((double) s / (prev + 1)).isLessThanOrEqualTo(1.25);
            }
            prev = s;
        }
    }

    @Test
    void badSizesAreRejected() {
        assertThatThrownBy(() -> SizeClasses.index(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("negative");
        assertThatThrownBy(() -> SizeClasses.index((1L << 62) + 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void lastClassIsTwoToThe62AndNoIndexBeyondIt() {
        assertThat(SizeClasses.COUNT).isEqualTo(220);
        assertThat(SizeClasses.index(1L << 62)).isEqualTo(SizeClasses.COUNT - 1);
        assertThat(SizeClasses.size(SizeClasses.COUNT - 1)).isEqualTo(1L << 62);
        assertThat(SizeClasses.index((1L << 62) - 1)).isEqualTo(SizeClasses.COUNT - 1);
        assertThatThrownBy(() -> SizeClasses.size(SizeClasses.COUNT)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("220");
        assertThatThrownBy(() -> SizeClasses.size(-1)).isInstanceOf(IllegalArgumentException.class);
    }
}

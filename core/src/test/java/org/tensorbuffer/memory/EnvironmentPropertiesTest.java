package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.tensorbuffer.leak.LeakDetector;

/**
 * Properties of the parsers of the environment variables the core reads: {@code TENSORBUFFER_POOL_MAX_MB}
 * ({@link BufferPool#parseMaxCachedMegabytes}) and {@code TENSORBUFFER_LEAK_DETECTION}
 * ({@link LeakDetector.Level#parse}): any string gives a valid value or {@link IllegalArgumentException} naming it.
 */
class EnvironmentPropertiesTest {

    @Provide
    Arbitrary<String> numbers() {
        return Arbitraries.oneOf(
                Arbitraries.longs().map(l -> Long.toString(l)),
                Arbitraries.longs().between(0, Long.MAX_VALUE >> 20).map(l -> Long.toString(l)),
                Arbitraries.bigIntegers().between(java.math.BigInteger.ZERO, java.math.BigInteger.TEN.pow(30))
                        .map(b -> b.toString()),
                Arbitraries.strings().ofMaxLength(24),
                Arbitraries.strings().withChars("0123456789 -+.eE_x").ofMaxLength(24));
    }

    @Property(tries = 2000)
    void poolBudgetIsExactOrRefused(@ForAll("numbers") String value) {
        long mb;
        try {
            mb = Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            mb = -1;
        }
        if (mb >= 0 && mb <= Long.MAX_VALUE >> 20) {
            assertThat(BufferPool.parseMaxCachedMegabytes(value)).isEqualTo(mb << 20).isNotNegative();
        } else {
            assertThatThrownBy(() -> BufferPool.parseMaxCachedMegabytes(value))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'" + value + "'");
        }
    }

    @Provide
    Arbitrary<String> levels() {
        return Arbitraries.oneOf(Arbitraries.strings().ofMaxLength(12),
                Arbitraries.of("disabled", "SAMPLED", " paranoid ", "Paranoid", "sampled\n", "loud", ""));
    }

    @Property(tries = 1000)
    void leakLevelIsANameOrRefused(@ForAll("levels") String value) {
        String norm = value.trim().toUpperCase(java.util.Locale.ROOT);
        boolean known = norm.equals("DISABLED") || norm.equals("SAMPLED") || norm.equals("PARANOID");
        if (known) {
            assertThat(LeakDetector.Level.parse(value).name()).isEqualTo(norm);
        } else {
            assertThatThrownBy(() -> LeakDetector.Level.parse(value)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'" + value + "'");
        }
    }
}

package org.tensorbuffer.observe;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Locale;
import org.junit.jupiter.api.Test;

class ByteUnitsTest {
    @Test
    void binaryUnitsWholeOrOneDecimal() {
        assertThat(ByteUnits.format(0)).isEqualTo("0 B");
        assertThat(ByteUnits.format(1023)).isEqualTo("1023 B");
        assertThat(ByteUnits.format(1024)).isEqualTo("1 KiB");
        assertThat(ByteUnits.format(1536)).isEqualTo("1.5 KiB");
        assertThat(ByteUnits.format(3L << 20)).isEqualTo("3 MiB");
        assertThat(ByteUnits.format((1L << 30) + (1L << 29))).isEqualTo("1.5 GiB");
        assertThat(ByteUnits.format(1L << 62)).isEqualTo("4 EiB");
        assertThat(ByteUnits.format(-2048)).isEqualTo("-2 KiB");
    }

    @Test
    void digitsDoNotFollowTheDefaultLocale() {
        Locale before = Locale.getDefault();
        try {
            Locale.setDefault(Locale.GERMANY);
            assertThat(ByteUnits.format(1536)).isEqualTo("1.5 KiB");
        } finally {
            Locale.setDefault(before);
        }
    }
}

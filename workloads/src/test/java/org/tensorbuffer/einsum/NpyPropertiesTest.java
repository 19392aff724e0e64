package org.tensorbuffer.einsum;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * Properties of {@link Npy#read}: any truncation, bit flip or extreme header value of a valid file gives an array
 * that matches the file or {@link NpyFormatException} (documented), never another exception, a hang, or heap
 * allocation beyond a small multiple of the file size.
 */
class NpyPropertiesTest {
    private static byte[] valid(long[] shape) throws Exception {
        int n = 1;
        for (long d : shape) {
            n *= (int) d;
        }
        double[] data = new double[n];
        Arrays.setAll(data, i -> i * 0.5 - 3);
        Path p = Files.createTempFile("v", ".npy");
        Npy.write(p, shape, data);
        byte[] b = Files.readAllBytes(p);
        Files.delete(p);
        return b;
    }

    @Provide
    Arbitrary<long[]> shapes() {
        return Arbitraries.longs().between(0, 6).array(long[].class).ofMinSize(0).ofMaxSize(3);
    }

    private static void readAndCheck(byte[] bytes, long[] expected) throws Exception {
        ParserProperties.Outcome<Npy.Array> o = ParserProperties.parseFile(bytes, NpyFormatException.class,
                p -> Npy.read(p, expected));
        if (o.value() != null) {
            assertThat((long) o.value().data().length * 8).isLessThanOrEqualTo(bytes.length);
        }
    }

    @Property(tries = 300)
    void truncations(@ForAll("shapes") long[] shape, @ForAll @IntRange(min = 0, max = 100_000) int cut)
            throws Exception {
        byte[] b = valid(shape);
        readAndCheck(Arrays.copyOf(b, Math.min(cut, b.length)), null);
        readAndCheck(Arrays.copyOf(b, Math.min(cut, b.length)), shape);
    }

    @Property(tries = 500)
    void bitFlips(@ForAll("shapes") long[] shape, @ForAll @IntRange(min = 0, max = 1_000_000) int where,
                  @ForAll @IntRange(min = 0, max = 7) int bit, @ForAll @IntRange(min = 1, max = 4) int flips)
            throws Exception {
        byte[] b = valid(shape);
        for (int i = 0; i < flips; i++) {
            int at = (where + i * 7919) % Math.min(b.length, 140); // mostly the header
            b[at] ^= (byte) (1 << ((bit + i) & 7));
        }
        readAndCheck(b, null);
    }

    @Provide
    Arbitrary<String> extremeShapes() {
        return Arbitraries.of("(9223372036854775807,)", "(9223372036854775807, 2)", "(4294967296, 4294967296)",
                "(-1,)", "(-9223372036854775808,)", "(3037000500, 3037000500)", "(268435456,)", "(1e9,)",
                "(99999999999999999999999,)", "(,)", "(1,,2)", "()", "(2, 3", "1", "(0x10,)", "(1.5,)");
    }

    @Property(tries = 100)
    void extremeHeaderValues(@ForAll("extremeShapes") String shape,
                             @ForAll @IntRange(min = 0, max = 3) int lengthField) throws Exception {
        String dict = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }";
        String h = dict + " ".repeat((64 - (10 + dict.length() + 1) % 64) % 64) + "\n";
        byte[] hb = h.getBytes(StandardCharsets.ISO_8859_1);
        int len = switch (lengthField) {
            case 0 -> hb.length;
            case 1 -> 0xffff;
            case 2 -> 0;
            default -> hb.length + 1;
        };
        byte[] out = new byte[10 + hb.length + 64];
        out[0] = (byte) 0x93;
        System.arraycopy("NUMPY".getBytes(StandardCharsets.US_ASCII), 0, out, 1, 5);
        out[6] = 1;
        out[8] = (byte) len;
        out[9] = (byte) (len >>> 8);
        System.arraycopy(hb, 0, out, 10, hb.length);
        readAndCheck(out, null);
    }
}

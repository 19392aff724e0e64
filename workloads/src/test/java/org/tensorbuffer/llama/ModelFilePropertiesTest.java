package org.tensorbuffer.llama;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.tensorbuffer.einsum.ParserProperties;

/**
 * Properties of the llama2.c parsers, {@link Checkpoint#open} and {@link Tokenizer#load}: truncations, bit flips and
 * extreme header values of a valid small checkpoint and tokenizer give a parsed file consistent with its size or
 * {@link ModelFormatException} (documented), never another exception, a hang, or heap allocation beyond a small
 * multiple of the file size (the checkpoint is memory-mapped: its heap use is the header's).
 */
class ModelFilePropertiesTest {
    private static final int[] HEADER = {8, 16, 2, 2, 1, 16, 8}; // dim, hidden, layers, heads, kv heads, vocab, seq
    /** A valid checkpoint of the header's dims (shared classifier), weights 0.01 * i. */
    static byte[] checkpoint(int[] h) {
        long dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kvHeads = h[4], vocab = h[5], seq = h[6];
        long head = dim / heads;
        long kvDim = kvHeads * head;
        long floats = vocab * dim + layers * (dim + dim * dim + 2 * kvDim * dim + dim * dim + dim + 3 * hidden * dim)
                + dim + seq * head;
        ByteBuffer b = ByteBuffer.allocate((int) (28 + 4 * floats)).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : h) {
            b.putInt(v);
        }
        for (long i = 0; i < floats; i++) {
            b.putFloat(0.01f * (i % 97));
        }
        return b.array();
    }

    /** A valid tokenizer of {@code vocab} tokens ("<i>" each). */
    static byte[] tokenizer(int vocab) {
        ByteBuffer b = ByteBuffer.allocate(4 + vocab * 16).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(8);
        for (int i = 0; i < vocab; i++) {
            byte[] piece = ("<" + i + ">").getBytes();
            b.putFloat(-i).putInt(piece.length).put(piece);
        }
        return Arrays.copyOf(b.array(), b.position());
    }

    private static void openAndCheck(byte[] bytes) throws Exception {
        ParserProperties.Outcome<Config> o = ParserProperties.parseFile(bytes, ModelFormatException.class, p -> {
            try (Checkpoint ck = Checkpoint.open(p)) {
                return ck.config();
            }
        });
        if (o.value() != null) {
            Config c = o.value();
            assertThat((long) c.vocabSize() * c.dim() * 4).isLessThanOrEqualTo(bytes.length);
        }
    }

    private static void loadAndCheck(byte[] bytes, int vocab) throws Exception {
        ParserProperties.Outcome<Tokenizer> o = ParserProperties.parseFile(bytes, ModelFormatException.class,
                p -> Tokenizer.load(p, vocab));
        if (o.value() != null) {
            assertThat(o.value().vocabSize()).isEqualTo(vocab);
        }
    }

    @Property(tries = 200)
    void checkpointTruncations(@ForAll @IntRange(min = 0, max = 200_000) int cut) throws Exception {
        byte[] b = checkpoint(HEADER);
        openAndCheck(Arrays.copyOf(b, Math.min(cut, b.length)));
    }

    @Property(tries = 400)
    void checkpointBitFlips(@ForAll @IntRange(min = 0, max = 1_000_000) int where,
                            @ForAll @IntRange(min = 0, max = 31) int bit) throws Exception {
        byte[] b = checkpoint(HEADER);
        int at = where % 28; // the header: the weights' bits cannot make the file invalid
        b[at] ^= (byte) (1 << (bit & 7));
        openAndCheck(b);
    }

    @Provide
    Arbitrary<Integer> extremes() {
        return Arbitraries.of(0, -1, 1, 2, Integer.MAX_VALUE, Integer.MIN_VALUE, Integer.MAX_VALUE - 1, 65536,
                1 << 30, -16, 46341, 3);
    }

    @Property(tries = 300)
    void checkpointExtremeHeaderValues(@ForAll @IntRange(min = 0, max = 6) int field,
                                       @ForAll("extremes") int value,
                                       @ForAll @IntRange(min = 0, max = 6) int field2,
                                       @ForAll("extremes") int value2) throws Exception {
        byte[] b = checkpoint(HEADER);
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(field * 4, value);
        bb.putInt(field2 * 4, value2);
        openAndCheck(b);
    }

    @Property(tries = 200)
    void tokenizerTruncations(@ForAll @IntRange(min = 0, max = 400) int cut) throws Exception {
        byte[] b = tokenizer(16);
        loadAndCheck(Arrays.copyOf(b, Math.min(cut, b.length)), 16);
    }

    @Property(tries = 400)
    void tokenizerBitFlips(@ForAll @IntRange(min = 0, max = 1_000_000) int where,
                           @ForAll @IntRange(min = 0, max = 7) int bit) throws Exception {
        byte[] b = tokenizer(16);
        b[where % b.length] ^= (byte) (1 << bit);
        loadAndCheck(b, 16);
    }

    @Property(tries = 100)
    void tokenizerExtremeVocabularies(@ForAll("extremes") int vocab, @ForAll("extremes") int maxLen)
            throws Exception {
        byte[] b = tokenizer(16);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(0, maxLen);
        loadAndCheck(b, vocab);
    }
}

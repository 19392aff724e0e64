package org.tensorbuffer.llama;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A llama2.c tokenizer ({@code tok*.bin}: int32 {@code max_token_length}, then per token a float32 score, an int32
 * byte length and the bytes; little-endian), with sentencepiece-style BPE encoding and decoding exactly as
 * karpathy/llama2.c's {@code run.c} ({@code encode}, {@code decode}, {@code safe_printf}).
 *
 * <p>Token pieces are byte strings (UTF-8 fragments); this class keeps them as {@code byte[]} and produces bytes, so
 * that multi-byte characters split over several tokens come out whole. Immutable and thread-safe.
 */
public final class Tokenizer {
    /** Beginning-of-sequence token id. */
    public static final int BOS = 1;
    /** End-of-sequence token id. */
    public static final int EOS = 2;

    private final Path path;
    private final int maxTokenLength;
    private final byte[][] vocab;
    private final float[] scores;
    private final Map<String, Integer> lookup; // piece as ISO-8859-1 string (one char a byte) -> lowest id

    private Tokenizer(Path path, int maxTokenLength, byte[][] vocab, float[] scores) {
        this.path = path;
        this.maxTokenLength = maxTokenLength;
        this.vocab = vocab;
        this.scores = scores;
        this.lookup = new HashMap<>(vocab.length * 2);
        for (int i = 0; i < vocab.length; i++) {
            lookup.putIfAbsent(latin1(vocab[i]), i);
        }
    }

    /**
     * Reads a tokenizer of exactly {@code vocabSize} tokens (the model's {@code vocab_size}: the file does not store
     * it).
     *
     * @throws ModelFormatException if the file ends before {@code vocabSize} tokens (a smaller vocabulary or a
     *                              truncated file), has bytes after them (a larger vocabulary), or has a negative
     *                              length field; the message names the file, the field and the token index
     * @throws NoSuchFileException  if the file does not exist
     * @throws IOException          if it cannot be read
     */
    public static Tokenizer load(Path path, int vocabSize) throws IOException {
        if (!Files.isRegularFile(path)) {
            throw new NoSuchFileException(path.toString(), null, "tokenizer not found");
        }
        ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
        if (buf.remaining() < 4) {
            throw new ModelFormatException(path, "max_token_length", "file truncated: " + buf.remaining()
                    + " bytes");
        }
        int maxLen = buf.getInt();
        if (maxLen <= 0) {
            throw new ModelFormatException(path, "max_token_length", "is " + maxLen + ", must be positive");
        }
        if (vocabSize <= 0) {
            throw new ModelFormatException(path, "vocab_size", "the model's vocab_size " + vocabSize
                    + " must be positive");
        }
        // each token takes at least 8 bytes (score, length): the loop below fails before an index past what the
        // file can hold, so the arrays need not be larger (a huge vocab_size must not allocate for it)
        int fits = (int) Math.min(vocabSize, buf.remaining() / 8);
        byte[][] vocab = new byte[fits][];
        float[] scores = new float[fits];
        for (int i = 0; i < vocabSize; i++) {
            if (buf.remaining() < 8) {
                throw new ModelFormatException(path, (buf.remaining() < 4 ? "score" : "length") + " of token " + i,
                        "file ends after " + i + " tokens, but the model's vocab_size is " + vocabSize
                                + " (tokenizer for another vocabulary, or truncated)");
            }
            scores[i] = buf.getFloat();
            int len = buf.getInt();
            if (len < 0 || len > buf.remaining()) {
                throw new ModelFormatException(path, "length of token " + i, len < 0 ? "is negative (" + len + ")"
                        : "is " + len + " but only " + buf.remaining() + " bytes remain (truncated file, or the "
                                + "model's vocab_size " + vocabSize + " does not match)");
            }
            vocab[i] = new byte[len];
            buf.get(vocab[i]);
        }
        if (buf.hasRemaining()) {
            throw new ModelFormatException(path, "vocab_size", buf.remaining() + " bytes follow token "
                    + (vocabSize - 1) + ": the tokenizer has more tokens than the model's vocab_size " + vocabSize);
        }
        return new Tokenizer(path, maxLen, vocab, scores);
    }

    /** The file it was read from. */
    public Path path() {
        return path;
    }

    /** Number of tokens. */
    public int vocabSize() {
        return vocab.length;
    }

    /** The longest piece in bytes, as stored in the file. */
    public int maxTokenLength() {
        return maxTokenLength;
    }

    /** The bytes of token {@code id}'s piece (a copy). */
    public byte[] piece(int id) {
        return vocab[id].clone();
    }

    /** The merge score of token {@code id}. */
    public float score(int id) {
        return scores[id];
    }

    /**
     * Encodes UTF-8 text as run.c's {@code encode}: optional BOS, a dummy-prefix space token when the text is not
     * empty, one token per code point (or its bytes as byte-fallback tokens {@code byte + 3}), then repeated merges of
     * the adjacent pair whose concatenation is the vocabulary piece with the highest score (the first such pair on
     * ties), optional EOS.
     *
     * @throws IllegalStateException if the vocabulary has no single-space piece for the dummy prefix
     */
    public int[] encode(String text, boolean bos, boolean eos) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] tokens = new int[bytes.length + 3];
        int n = 0;
        if (bos) {
            tokens[n++] = BOS;
        }
        if (bytes.length > 0) {
            Integer space = lookup.get(" ");
            if (space == null) {
                throw new IllegalStateException(path + ": the vocabulary has no ' ' piece for the dummy prefix");
            }
            tokens[n++] = space;
        }
        StringBuilder cp = new StringBuilder(4);
        for (int i = 0; i < bytes.length; i++) {
            if ((bytes[i] & 0xC0) != 0x80) {
                cp.setLength(0);
            }
            cp.append((char) (bytes[i] & 0xFF));
            if (i + 1 < bytes.length && (bytes[i + 1] & 0xC0) == 0x80 && cp.length() < 4) {
                continue;
            }
            Integer id = lookup.get(cp.toString());
            if (id != null) {
                tokens[n++] = id;
            } else {
                for (int j = 0; j < cp.length(); j++) {
                    tokens[n++] = cp.charAt(j) + 3;
                }
            }
            cp.setLength(0);
        }
        while (true) {
            float best = -1e10f;
            int bestId = -1;
            int bestIdx = -1;
            for (int i = 0; i < n - 1; i++) {
                Integer id = lookup.get(latin1(vocab[tokens[i]]) + latin1(vocab[tokens[i + 1]]));
                if (id != null && scores[id] > best) {
                    best = scores[id];
                    bestId = id;
                    bestIdx = i;
                }
            }
            if (bestIdx == -1) {
                break;
            }
            tokens[bestIdx] = bestId;
            System.arraycopy(tokens, bestIdx + 2, tokens, bestIdx + 1, n - bestIdx - 2);
            n--;
        }
        if (eos) {
            tokens[n++] = EOS;
        }
        return Arrays.copyOf(tokens, n);
    }

    /**
     * The bytes run.c prints for {@code token} following {@code prevToken} ({@code decode} then {@code safe_printf}):
     * a leading space is dropped after BOS, a {@code <0xHH>} piece is that one byte, and a single byte that is neither
     * printable ASCII nor whitespace prints nothing.
     */
    public byte[] decode(int prevToken, int token) {
        byte[] piece = vocab[token];
        int start = prevToken == BOS && piece.length > 0 && piece[0] == ' ' ? 1 : 0;
        int b = byteToken(piece, start);
        if (b >= 0) {
            piece = new byte[] {(byte) b};
            start = 0;
        }
        int len = piece.length - start;
        if (len == 0) {
            return piece.length == 0 ? piece : new byte[0];
        }
        if (len == 1) {
            int v = piece[start] & 0xFF;
            boolean print = v >= 0x20 && v <= 0x7E;
            boolean space = v == ' ' || (v >= 0x09 && v <= 0x0D);
            if (!print && !space) {
                return new byte[0];
            }
        }
        return start == 0 ? piece : Arrays.copyOfRange(piece, start, piece.length);
    }

    /** Text of a whole token sequence as run.c prints it, starting after BOS (UTF-8 decoded). */
    public String decodeAll(int prevToken, int... tokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int prev = prevToken;
        for (int t : tokens) {
            out.writeBytes(decode(prev, t));
            prev = t;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** sscanf(piece, "<0x%02hhX>"): the byte value, or -1 if the piece is not a byte token. */
    private static int byteToken(byte[] p, int start) {
        if (p.length - start < 4 || p[start] != '<' || p[start + 1] != '0' || p[start + 2] != 'x') {
            return -1;
        }
        int v = 0;
        int digits = 0;
        for (int i = start + 3; i < p.length && digits < 2; i++, digits++) {
            int d = Character.digit(p[i], 16);
            if (d < 0) {
                break;
            }
            v = v * 16 + d;
        }
        return digits == 0 ? -1 : v;
    }

    private static String latin1(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    @Override
    public String toString() {
        return "Tokenizer[" + path + ", " + vocab.length + " tokens]";
    }
}

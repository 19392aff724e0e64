package org.tensorbuffer.llama;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorbuffer.types.Shape;

/**
 * A llama2.c checkpoint in the legacy {@code .bin} format read by karpathy/llama2.c's {@code run.c}: seven
 * little-endian int32 header fields ({@code dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len};
 * a negative {@code vocab_size} means the classifier is not shared with the embedding), then the float32 weights in
 * run.c's order ({@code token_embedding_table, rms_att_weight, wq, wk, wv, wo, rms_ffn_weight, w1, w2, w3,
 * rms_final_weight}, two unused RoPE tables, and {@code wcls} when unshared). Every matrix is row-major
 * {@code [out, in]} (so a layer computes {@code W @ x}).
 *
 * <p>The file is memory-mapped, not copied onto the Java heap; {@link #weight(String, int)} returns a slice of the
 * mapping. The header and the file size are validated on {@link #open}: a truncated, padded or inconsistent file
 * throws {@link ModelFormatException} naming the file and the field.
 *
 * <p>Thread-safe for reading; {@link #close()} unmaps the file, after which the slices must not be used.
 */
public final class Checkpoint implements AutoCloseable {
    /** Bytes of the header: seven int32 fields. */
    public static final int HEADER_BYTES = 28;
    private static final String[] HEADER_FIELDS = {
        "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};

    /** One weight tensor of the file, for every layer when {@code layers > 1}. */
    public record Section(String name, long byteOffset, int layers, Shape shape) {
        /** Bytes of one layer's tensor. */
        public long layerBytes() {
            return shape.elementCount() * Float.BYTES;
        }

        /** Bytes of all layers. */
        public long byteSize() {
            return layers * layerBytes();
        }
    }

    private final Path path;
    private final Config config;
    private final Map<String, Section> sections;
    private final Arena arena;
    private final MemorySegment data;

    private Checkpoint(Path path, Config config, Map<String, Section> sections, Arena arena, MemorySegment data) {
        this.path = path;
        this.config = config;
        this.sections = sections;
        this.arena = arena;
        this.data = data;
    }

    /**
     * Opens and validates a checkpoint.
     *
     * @throws ModelFormatException if the header has a non-positive or inconsistent field, or the file size is not
     *                              exactly what the header implies (the message names the first incomplete weight)
     * @throws NoSuchFileException  if the file does not exist
     * @throws IOException          if it cannot be read
     */
    public static Checkpoint open(Path path) throws IOException {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new UnsupportedOperationException("llama2.c checkpoints are little-endian; this host is not");
        }
        if (!Files.isRegularFile(path)) {
            throw new NoSuchFileException(path.toString(), null, "model checkpoint not found");
        }
        long size = Files.size(path);
        if (size < HEADER_BYTES) {
            throw new ModelFormatException(path, HEADER_FIELDS[(int) Math.min(6, size / 4)], "file truncated: "
                    + size + " bytes, the header alone needs " + HEADER_BYTES);
        }
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment data = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            int[] h = new int[7];
            for (int i = 0; i < 7; i++) {
                h[i] = data.get(ValueLayout.JAVA_INT_UNALIGNED, i * 4L);
            }
            Config config = validateHeader(path, h);
            Map<String, Section> sections = layout(path, config);
            Section last = sections.values().stream().reduce((a, b) -> b).orElseThrow();
            long expected = last.byteOffset() + last.byteSize();
            if (size < expected) {
                Section cut = sections.values().stream()
                        .filter(s -> s.byteOffset() + s.byteSize() > size).findFirst().orElseThrow();
                throw new ModelFormatException(path, cut.name(), "file truncated: " + size + " bytes, but the header ("
                        + config + ") needs " + expected + "; weight '" + cut.name() + "' would span bytes ["
                        + cut.byteOffset() + ", " + (cut.byteOffset() + cut.byteSize()) + ")");
            }
            if (size > expected) {
                throw new ModelFormatException(path, "vocab_size", "file has " + (size - expected)
                        + " bytes after the last weight ('" + last.name() + "'): the header (" + config
                        + ") does not describe this file (corrupt header, or a checkpoint format other than"
                        + " llama2.c's legacy .bin)");
            }
            return new Checkpoint(path, config, sections, arena, data);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Config validateHeader(Path path, int[] h) {
        for (int i = 0; i < 7; i++) {
            if (i == 5 ? h[i] == 0 || h[i] == Integer.MIN_VALUE : h[i] <= 0) {
                throw new ModelFormatException(path, HEADER_FIELDS[i], "is " + h[i] + ", must be positive"
                        + (i == 5 ? " (negative for an unshared classifier)" : ""));
            }
        }
        int dim = h[0];
        int nHeads = h[3];
        int nKvHeads = h[4];
        if (dim % nHeads != 0) {
            throw new ModelFormatException(path, "n_heads", nHeads + " does not divide dim " + dim);
        }
        if ((dim / nHeads) % 2 != 0) {
            throw new ModelFormatException(path, "n_heads", "head size dim / n_heads = " + (dim / nHeads)
                    + " is odd; RoPE needs an even head size");
        }
        if (nKvHeads > nHeads || nHeads % nKvHeads != 0) {
            throw new ModelFormatException(path, "n_kv_heads", nKvHeads + " does not divide n_heads " + nHeads);
        }
        return new Config(dim, h[1], h[2], nHeads, nKvHeads, Math.abs(h[5]), h[6], h[5] > 0);
    }

    private static Map<String, Section> layout(Path path, Config c) {
        Map<String, Section> m = new LinkedHashMap<>();
        long[] off = {HEADER_BYTES};
        int l = c.nLayers();
        try {
            add(m, off, "token_embedding_table", 1, Shape.of(c.vocabSize(), c.dim()));
            add(m, off, "rms_att_weight", l, Shape.of(c.dim()));
            add(m, off, "wq", l, Shape.of((long) c.nHeads() * c.headSize(), c.dim()));
            add(m, off, "wk", l, Shape.of(c.kvDim(), c.dim()));
            add(m, off, "wv", l, Shape.of(c.kvDim(), c.dim()));
            add(m, off, "wo", l, Shape.of(c.dim(), (long) c.nHeads() * c.headSize()));
            add(m, off, "rms_ffn_weight", l, Shape.of(c.dim()));
            add(m, off, "w1", l, Shape.of(c.hiddenDim(), c.dim()));
            add(m, off, "w2", l, Shape.of(c.dim(), c.hiddenDim()));
            add(m, off, "w3", l, Shape.of(c.hiddenDim(), c.dim()));
            add(m, off, "rms_final_weight", 1, Shape.of(c.dim()));
            add(m, off, "freq_cis_real", 1, Shape.of((long) c.seqLen() * c.headSize() / 2));
            add(m, off, "freq_cis_imag", 1, Shape.of((long) c.seqLen() * c.headSize() / 2));
            if (!c.sharedClassifier()) {
                add(m, off, "wcls", 1, Shape.of(c.vocabSize(), c.dim()));
            }
        } catch (ArithmeticException e) {
            throw new ModelFormatException(path, "dim", "the header (" + c + ") implies more weights than fit in a "
                    + "long byte count");
        }
        return Collections.unmodifiableMap(m);
    }

    private static void add(Map<String, Section> m, long[] off, String name, int layers, Shape shape) {
        Section s = new Section(name, off[0], layers, shape);
        m.put(name, s);
        off[0] = Math.addExact(off[0], Math.multiplyExact((long) layers, Math.multiplyExact(shape.elementCount(),
                (long) Float.BYTES)));
    }

    /** The file. */
    public Path path() {
        return path;
    }

    /** The header. */
    public Config config() {
        return config;
    }

    /** The weight sections in file order (including the two unused RoPE tables). */
    public List<Section> sections() {
        return new ArrayList<>(sections.values());
    }

    /**
     * The float32 little-endian bytes of weight {@code name} for {@code layer} (0 for non-layer weights); for
     * {@code wcls} of a shared-classifier model, the embedding table.
     *
     * @throws IllegalArgumentException if there is no such weight or layer
     */
    public MemorySegment weight(String name, int layer) {
        Section s = section(name);
        if (layer < 0 || layer >= s.layers()) {
            throw new IllegalArgumentException("weight '" + name + "' has " + s.layers() + " layer(s), asked for "
                    + layer);
        }
        return data.asSlice(s.byteOffset() + layer * s.layerBytes(), s.layerBytes());
    }

    /** The section of weight {@code name}; {@code wcls} of a shared-classifier model is the embedding table. */
    public Section section(String name) {
        Section s = sections.get(name);
        if (s == null && name.equals("wcls")) {
            s = sections.get("token_embedding_table");
        }
        if (s == null) {
            throw new IllegalArgumentException("no weight '" + name + "' in " + path);
        }
        return s;
    }

    /** Unmaps the file. */
    @Override
    public void close() {
        arena.close();
    }

    @Override
    public String toString() {
        return path + " (" + config + ")";
    }
}

package org.tensorbuffer.memory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * What a {@link TensorBuffer} should hold for a step: per (shape, dtype) key, the largest number of buffers of that key
 * live at the same moment of a recorded step. {@link TensorBuffer#reserve(ReservationPlan)} reserves exactly that.
 *
 * <p>Plans come from a recording ({@link TensorBuffer#record(Runnable)}, best on the {@code meta} device where the
 * step computes nothing, or {@code AllocationTrace.reservationPlan()} of the liveness planner), from
 * {@link #load(Path)}, or from {@link #of(Map, DType)}. {@link #toString()} prints the table (shape, dtype, count,
 * bytes); {@link #save(Path)} writes a small text file that {@link #load(Path)} reads back.
 *
 * <p>Shapes are row-major; {@link Entry#bytes()} is the byte size of one buffer, {@link #totalBytes()} the sum over all
 * reserved buffers. Entries are kept in a canonical order (dtype, then descending bytes, then shape), so two plans
 * recorded from the same step compare equal. Immutable and thread-safe.
 */
public final class ReservationPlan {
    private static final String HEADER = "# tensorbuffer reservation plan v1: dtype shape count";
    /** Line prefix naming a keying other than exact shapes. */
    private static final String KEYING = "# keying: ";
    /** Largest plan file {@link #load(Path)} reads. */
    private static final long MAX_FILE_BYTES = 16L << 20;
    private static final Comparator<Entry> ORDER = Comparator.comparing((Entry e) -> e.dtype())
            .thenComparing(Comparator.comparingLong(Entry::bytes).reversed())
            .thenComparing(e -> e.shape().toString());

    private final List<Entry> entries;
    private final ReservationKeying keying;

    /**
     * One key of a plan.
     *
     * @param shape row-major shape
     * @param dtype element type
     * @param count buffers to reserve, {@code >= 1}
     */
    public record Entry(Shape shape, DType dtype, int count) {
        /**
         * @throws IllegalArgumentException if {@code count < 1} or a component is null
         */
        public Entry {
            if (shape == null || dtype == null) {
                throw new IllegalArgumentException("a reservation plan entry needs a shape and a dtype");
            }
            if (count < 1) {
                throw new IllegalArgumentException("reservation count " + count + " for " + shape + " " + dtype
                        + " is not positive");
            }
        }

        /** Bytes of one buffer: {@code shape.byteSize(dtype)}. */
        public long bytes() {
            return shape.byteSize(dtype);
        }

        /** Bytes of all {@link #count()} buffers. */
        public long totalBytes() {
            return Math.multiplyExact(bytes(), (long) count);
        }
    }

    /**
     * A plan of the given entries (put in canonical order).
     *
     * @throws IllegalArgumentException if a (shape, dtype) key appears twice
     */
    public ReservationPlan(List<Entry> entries) {
        this(entries, ReservationKeying.SHAPE);
    }

    /**
     * A plan of the given entries whose shapes are keys of {@code keying} (as a TensorBuffer with that
     * {@link TensorBuffer#keying(ReservationKeying) keying} records them): reserved into an empty TensorBuffer, the
     * TensorBuffer takes that keying.
     *
     * @throws IllegalArgumentException if a (shape, dtype) key appears twice
     */
    public ReservationPlan(List<Entry> entries, ReservationKeying keying) {
        this.keying = java.util.Objects.requireNonNull(keying, "keying");
        List<Entry> e = new ArrayList<>(entries);
        e.sort(ORDER);
        for (int i = 1; i < e.size(); i++) {
            if (e.get(i).shape().equals(e.get(i - 1).shape()) && e.get(i).dtype() == e.get(i - 1).dtype()) {
                throw new IllegalArgumentException("key " + e.get(i).shape() + " " + e.get(i).dtype()
                        + " appears twice in a reservation plan");
            }
        }
        this.entries = List.copyOf(e);
    }

    /** A plan of {@code counts} (shape to count; counts below 1 are left out), all of one dtype. */
    public static ReservationPlan of(Map<Shape, Integer> counts, DType dtype) {
        List<Entry> e = new ArrayList<>();
        counts.forEach((s, n) -> {
            if (n > 0) {
                e.add(new Entry(s, dtype, n));
            }
        });
        return new ReservationPlan(e);
    }

    /** The empty plan. */
    public static ReservationPlan empty() {
        return new ReservationPlan(List.of());
    }

    /** What the entries' shapes are keys of ({@link ReservationKeying#SHAPE} for exact shapes). */
    public ReservationKeying keying() {
        return keying;
    }

    /** The entries, in canonical order. */
    public List<Entry> entries() {
        return entries;
    }

    /** Number of keys. */
    public int size() {
        return entries.size();
    }

    /** Buffers over all keys. */
    public long bufferCount() {
        long n = 0;
        for (Entry e : entries) {
            n += e.count();
        }
        return n;
    }

    /** Bytes of every buffer of the plan: what {@link TensorBuffer#reserve(ReservationPlan)} takes from the device. */
    public long totalBytes() {
        long n = 0;
        for (Entry e : entries) {
            n = Math.addExact(n, e.totalBytes());
        }
        return n;
    }

    /**
     * The plan that covers both this one and {@code other}: per key the larger count (for steps that are never live at
     * the same time, e.g. a prefill and a decode step, which {@link TensorBuffer#reserve(ReservationPlan)} tops up
     * the same way).
     */
    public ReservationPlan max(ReservationPlan other) {
        if (other.keying != keying && !other.entries.isEmpty() && !entries.isEmpty()) {
            throw new IllegalArgumentException("cannot merge a plan keyed by " + keying + " with one keyed by "
                    + other.keying);
        }
        if (entries.isEmpty()) {
            return other;
        }
        Map<List<Object>, Entry> m = new java.util.LinkedHashMap<>();
        for (Entry e : entries) {
            m.put(List.of(e.shape(), e.dtype()), e);
        }
        for (Entry e : other.entries) {
            m.merge(List.of(e.shape(), e.dtype()), e, (x, y) -> x.count() >= y.count() ? x : y);
        }
        return new ReservationPlan(new ArrayList<>(m.values()), keying);
    }

    /** The count for a key, 0 if the plan does not have it. */
    public int count(Shape shape, DType dtype) {
        for (Entry e : entries) {
            if (e.dtype() == dtype && e.shape().equals(shape)) {
                return e.count();
            }
        }
        return 0;
    }

    /**
     * Writes the plan as text: a header comment, then one line per key, {@code <dtype> <shape> <count>}, e.g.
     * {@code float32 [6,256] 2}.
     *
     * @throws IOException if the file cannot be written
     */
    public void save(Path file) throws IOException {
        StringBuilder sb = new StringBuilder(HEADER).append('\n');
        if (keying != ReservationKeying.SHAPE) {
            sb.append(KEYING).append(keying.name().toLowerCase(Locale.ROOT)).append('\n');
        }
        for (Entry e : entries) {
            sb.append(e.dtype().displayName()).append(' ').append(compact(e.shape())).append(' ').append(e.count())
                    .append('\n');
        }
        Files.writeString(file, sb, StandardCharsets.UTF_8);
    }

    /**
     * Reads a plan written by {@link #save(Path)} (blank lines and lines starting with {@code #} are ignored).
     *
     * @throws IOException              if the file cannot be read
     * @throws IllegalArgumentException naming the file (and line) for malformed content, a file that is not UTF-8
     *                                  text or one larger than 16 MiB
     */
    public static ReservationPlan load(Path file) throws IOException {
        if (Files.isRegularFile(file) && Files.size(file) > MAX_FILE_BYTES) {
            throw new IllegalArgumentException(file + ": " + Files.size(file) + " bytes is too large for a reservation "
                    + "plan (at most " + MAX_FILE_BYTES + ")");
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException(file + ": not a reservation plan (not UTF-8 text)", e);
        }
        List<Entry> e = new ArrayList<>();
        ReservationKeying keying = ReservationKeying.SHAPE;
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i).strip();
            if (l.startsWith(KEYING)) {
                String k = l.substring(KEYING.length()).strip();
                try {
                    keying = ReservationKeying.valueOf(k.toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException ex) {
                    throw new IllegalArgumentException(file + " line " + (i + 1) + ": unknown keying '" + excerpt(k)
                            + "' (shape, elements or size_class)", ex);
                }
                continue;
            }
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            String where = file + " line " + (i + 1);
            String[] f = l.split("\\s+");
            if (f.length != 3 || !f[1].startsWith("[") || !f[1].endsWith("]")) {
                throw new IllegalArgumentException(where + ": expected '<dtype> [d0,d1,...] <count>', got '"
                        + excerpt(l) + "' (not a reservation plan written by 'tensorbuffer ... --save-plan'?)");
            }
            try {
                DType dtype = DType.of(f[0]);
                String dims = f[1].substring(1, f[1].length() - 1);
                long[] d = dims.isEmpty() ? new long[0]
                        : java.util.Arrays.stream(dims.split(",")).mapToLong(Long::parseLong).toArray();
                e.add(new Entry(Shape.of(d), dtype, Integer.parseInt(f[2])));
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException(where + ": " + ex.getMessage(), ex);
            }
        }
        try {
            return new ReservationPlan(e, keying);
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException(file + ": " + ex.getMessage(), ex);
        }
    }

    /** At most 60 characters of a line, control and non-ASCII characters as '?', for one-line error messages. */
    private static String excerpt(String l) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < l.length() && sb.length() < 60; i++) {
            char c = l.charAt(i);
            sb.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return l.length() > 60 ? sb + "..." : sb.toString();
    }

    private static String compact(Shape s) {
        return s.toString().replace(" ", "");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ReservationPlan p && p.entries.equals(entries) && p.keying == keying;
    }

    @Override
    public int hashCode() {
        return entries.hashCode();
    }

    /** The table: one row per key (shape, dtype, count, bytes of all its buffers) and a total line. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-24s %-9s %6s %14s%n", "shape", "dtype", "count", "bytes"));
        for (Entry e : entries) {
            sb.append(String.format(Locale.ROOT, "%-24s %-9s %6d %,14d%n", e.shape(), e.dtype().displayName(),
                    e.count(), e.totalBytes()));
        }
        sb.append(String.format(Locale.ROOT, "%-24s %-9s %6d %,14d%n", "total", "", bufferCount(), totalBytes()));
        if (keying != ReservationKeying.SHAPE) {
            sb.append("(keyed by ").append(keying.name().toLowerCase(Locale.ROOT)).append(')').append(System.lineSeparator());
        }
        return sb.toString();
    }
}

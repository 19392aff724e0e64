package org.tensorbuffer.einsum;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and writes NumPy {@code .npy} files of float64 arrays in C order, as {@code numpy.save} writes them
 * (format specification: {@code numpy.lib.format}, versions 1.0, 2.0 and 3.0).
 *
 * <p>A file is the magic {@code \x93NUMPY}, a major and minor version byte, the header length (2 bytes little-endian
 * in version 1.0, 4 bytes in 2.0 and 3.0), an ASCII (UTF-8 in 3.0) Python dict literal with {@code descr},
 * {@code fortran_order} and {@code shape}, padded with spaces and a newline, then the data. Reading checks every part
 * and throws {@link NpyFormatException} naming the file, what it found and what was expected: a wrong magic or
 * version, a dtype other than little-endian float64 ({@code '<f8'}), Fortran order, a shape other than the expected
 * one, or a data section of the wrong length. Writing produces version 1.0 with the header padded so that the data
 * starts at a multiple of 64 bytes (as NumPy does). Stateless and thread-safe.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private Npy() {
    }

    /** A float64 array read from a file: its shape (row-major) and elements in C order. */
    public record Array(long[] shape, double[] data) {
    }

    /**
     * Reads a float64 C-order array and checks its shape.
     *
     * @param expectedShape the shape the file must have, or {@code null} to accept any
     * @throws NpyFormatException naming the file and the problem (see the class comment)
     * @throws IOException        if the file cannot be read
     */
    public static Array read(Path file, long[] expectedShape) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] pre = in.readNBytes(8);
            if (pre.length < 8 || !Arrays.equals(Arrays.copyOf(pre, 6), MAGIC)) {
                throw new NpyFormatException(file + ": not a .npy file (expected the magic \\x93NUMPY)");
            }
            int major = pre[6] & 0xff;
            int minor = pre[7] & 0xff;
            if (major < 1 || major > 3 || minor != 0) {
                throw new NpyFormatException(file + ": unsupported .npy version " + major + "." + minor
                        + " (expected 1.0, 2.0 or 3.0)");
            }
            int lenBytes = major == 1 ? 2 : 4;
            byte[] lb = in.readNBytes(lenBytes);
            if (lb.length < lenBytes) {
                throw new NpyFormatException(file + ": truncated header length");
            }
            long headerLen = 0;
            for (int i = lenBytes - 1; i >= 0; i--) {
                headerLen = (headerLen << 8) | (lb[i] & 0xff);
            }
            if (headerLen > 1 << 20) {
                throw new NpyFormatException(file + ": header of " + headerLen + " bytes is implausibly long");
            }
            byte[] hb = in.readNBytes((int) headerLen);
            if (hb.length < headerLen) {
                throw new NpyFormatException(file + ": truncated header (" + hb.length + " of " + headerLen
                        + " bytes)");
            }
            String header = new String(hb, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
            Matcher d = DESCR.matcher(header);
            if (!d.find()) {
                throw new NpyFormatException(file + ": header has no 'descr': " + header.strip());
            }
            String descr = d.group(1);
            if (!descr.equals("<f8") && !(descr.equals("=f8") && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN)) {
                throw new NpyFormatException(file + ": dtype '" + descr + "', expected float64 ('<f8')");
            }
            Matcher f = FORTRAN.matcher(header);
            if (!f.find()) {
                throw new NpyFormatException(file + ": header has no 'fortran_order': " + header.strip());
            }
            if (f.group(1).equals("True")) {
                throw new NpyFormatException(file + ": Fortran-order array, expected C order (fortran_order False)");
            }
            Matcher s = SHAPE.matcher(header);
            if (!s.find()) {
                throw new NpyFormatException(file + ": header has no 'shape': " + header.strip());
            }
            long[] shape = parseShape(s.group(1), file);
            if (expectedShape != null && !Arrays.equals(shape, expectedShape)) {
                throw new NpyFormatException(file + ": shape " + render(shape) + ", expected "
                        + render(expectedShape));
            }
            long n = 1;
            for (long dim : shape) {
                if (dim != 0 && n > Long.MAX_VALUE / dim) {
                    throw new NpyFormatException(file + ": shape " + render(shape) + " has more elements than a long "
                            + "counts");
                }
                n *= dim;
            }
            if (n > Integer.MAX_VALUE - 8) {
                throw new NpyFormatException(file + ": " + n + " elements are too many for one array");
            }
            byte[] raw = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, n * 8));
            if (raw.length != n * 8 || in.read() != -1) {
                long have = raw.length + (raw.length == n * 8 ? 1 + in.transferTo(OutputStream.nullOutputStream()) : 0);
                throw new NpyFormatException(file + ": data section of " + (raw.length == n * 8 ? "more than " : "")
                        + have + " bytes, expected " + (n * 8) + " for shape " + render(shape));
            }
            double[] data = new double[(int) n];
            ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(data);
            return new Array(shape, data);
        }
    }

    private static long[] parseShape(String s, Path file) throws NpyFormatException {
        String[] parts = s.split(",");
        long[] dims = new long[parts.length];
        int c = 0;
        for (String p : parts) {
            String t = p.strip();
            if (t.isEmpty()) {
                continue;
            }
            if (t.endsWith("L")) {
                t = t.substring(0, t.length() - 1);
            }
            try {
                dims[c] = Long.parseLong(t);
            } catch (NumberFormatException e) {
                throw new NpyFormatException(file + ": bad dimension '" + t + "' in shape (" + s + ")");
            }
            if (dims[c] < 0) {
                throw new NpyFormatException(file + ": negative dimension in shape (" + s + ")");
            }
            c++;
        }
        return Arrays.copyOf(dims, c);
    }

    /**
     * Writes a float64 C-order array (version 1.0 format; a rank-0 shape gives a 0-d array).
     *
     * @throws IllegalArgumentException if {@code data.length} is not the shape's element count
     * @throws IOException              if the file cannot be written
     */
    public static void write(Path file, long[] shape, double[] data) throws IOException {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        if (n != data.length) {
            throw new IllegalArgumentException("npy write: " + data.length + " elements for shape " + render(shape));
        }
        String dict = "{'descr': '<f8', 'fortran_order': False, 'shape': " + render(shape) + ", }";
        int unpadded = MAGIC.length + 2 + 2 + dict.length() + 1;
        int pad = (64 - unpadded % 64) % 64;
        String header = dict + " ".repeat(pad) + "\n";
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(MAGIC);
            out.write(new byte[] {1, 0, (byte) (header.length() & 0xff), (byte) (header.length() >>> 8)});
            out.write(header.getBytes(StandardCharsets.ISO_8859_1));
            ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (double v : data) {
                if (!buf.hasRemaining()) {
                    out.write(buf.array(), 0, buf.position());
                    buf.clear();
                }
                buf.putDouble(v);
            }
            out.write(buf.array(), 0, buf.position());
        }
    }

    /** A shape as a Python tuple: {@code ()}, {@code (3,)}, {@code (2, 3)}. */
    static String render(long[] shape) {
        if (shape.length == 1) {
            return "(" + shape[0] + ",)";
        }
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        return sb.append(')').toString();
    }
}

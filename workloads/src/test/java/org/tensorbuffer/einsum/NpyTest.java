package org.tensorbuffer.einsum;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyTest {
    @TempDir
    Path tmp;

    @Test
    void roundTripsEveryRank() throws Exception {
        for (long[] shape : List.of(new long[0], new long[] {5}, new long[] {2, 3}, new long[] {2, 1, 3})) {
            int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            double[] data = new double[n];
            for (int i = 0; i < n; i++) {
                data[i] = i * 0.5 - 1;
            }
            Path f = tmp.resolve("a" + shape.length + ".npy");
            Npy.write(f, shape, data);
            assertThat(Files.size(f) % 64).as("data 64-byte aligned").isEqualTo((n * 8L) % 64);
            Npy.Array a = Npy.read(f, shape);
            assertThat(a.shape()).containsExactly(shape);
            assertThat(a.data()).containsExactly(data);
        }
    }

    @Test
    void numpyReadsOursAndWeReadNumpys() throws Exception {
        assumeThat(TestSupport.hasNumpy()).as("python3 with numpy").isTrue();
        Path ours = tmp.resolve("ours.npy");
        Npy.write(ours, new long[] {2, 3}, new double[] {1, 2, 3, 4, 5, 6.5});
        Path theirs = tmp.resolve("theirs.npy");
        Path scalar = tmp.resolve("scalar.npy");
        Process p = new ProcessBuilder(TestSupport.python(), "-c", "import numpy as np, sys\n"
                + "a = np.load(sys.argv[1]); assert a.shape == (2, 3) and a.dtype == np.float64, a\n"
                + "assert a[1, 2] == 6.5 and a[0, 1] == 2\n"
                + "np.save(sys.argv[2], np.arange(12, dtype=np.float64).reshape(3, 4) / 4)\n"
                + "np.save(sys.argv[3], np.float64(2.25))\n", ours.toString(), theirs.toString(), scalar.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        Npy.Array a = Npy.read(theirs, new long[] {3, 4});
        assertThat(a.data()[5]).isEqualTo(1.25);
        assertThat(Npy.read(scalar, new long[0]).data()).containsExactly(2.25);
    }

    private Path withHeader(String name, int major, String dict, int dataBytes) throws Exception {
        byte[] h = (dict + " ".repeat(64 - (dict.length() + 11) % 64) + "\n").getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(12 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
        if (major == 1) {
            b.putShort((short) h.length);
        } else {
            b.putInt(h.length);
        }
        b.put(h);
        Path f = tmp.resolve(name);
        Files.write(f, Arrays.copyOf(b.array(), b.position() + dataBytes));
        return f;
    }

    @Test
    void acceptsVersion2Headers() throws Exception {
        Path f = withHeader("v2.npy", 2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16);
        assertThat(Npy.read(f, new long[] {2}).data()).containsExactly(0.0, 0.0);
    }

    @Test
    void rejectsWhatIsNotAFloat64COrderArrayOfTheExpectedShape() throws Exception {
        Path magic = tmp.resolve("magic.npy");
        Files.write(magic, "PK\u0003\u0004 not npy".getBytes(StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> Npy.read(magic, null)).isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("magic.npy").hasMessageContaining("magic");

        Path version = withHeader("version.npy", 9, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16);
        assertThatThrownBy(() -> Npy.read(version, null)).isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("version.npy").hasMessageContaining("version 9.0");

        Path f4 = withHeader("f4.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
        assertThatThrownBy(() -> Npy.read(f4, new long[] {2})).isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("f4.npy").hasMessageContaining("'<f4'").hasMessageContaining("float64");

        Path be = withHeader("be.npy", 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", 16);
        assertThatThrownBy(() -> Npy.read(be, new long[] {2})).hasMessageContaining("'>f8'");

        Path fortran = withHeader("fortran.npy", 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }",
                32);
        assertThatThrownBy(() -> Npy.read(fortran, new long[] {2, 2})).isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("fortran.npy").hasMessageContaining("C order");

        Path shape = withHeader("shape.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", 48);
        assertThatThrownBy(() -> Npy.read(shape, new long[] {2, 3})).isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("shape.npy").hasMessageContaining("shape (3, 2), expected (2, 3)");

        Path shortData = withHeader("short.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }",
                24);
        assertThatThrownBy(() -> Npy.read(shortData, new long[] {4})).isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("short.npy").hasMessageContaining("24 bytes, expected 32");

        Path longData = withHeader("long.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 16);
        assertThatThrownBy(() -> Npy.read(longData, new long[] {1})).isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("long.npy").hasMessageContaining("more than");

        Path noShape = withHeader("noshape.npy", 1, "{'descr': '<f8', 'fortran_order': False, }", 0);
        assertThatThrownBy(() -> Npy.read(noShape, null)).hasMessageContaining("no 'shape'");
    }

    @Test
    void writeChecksTheElementCount() {
        assertThatThrownBy(() -> Npy.write(tmp.resolve("x.npy"), new long[] {2, 2}, new double[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(2, 2)");
    }
}

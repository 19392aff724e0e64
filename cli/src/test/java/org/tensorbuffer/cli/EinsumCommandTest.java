package org.tensorbuffer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorbuffer.einsum.Instance;
import org.tensorbuffer.einsum.Npy;
import org.tensorbuffer.einsum.Operands;

class EinsumCommandTest {
    @TempDir
    Path tmp;

    private static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (!Files.isDirectory(p.resolve("data/einsum"))) {
            p = p.getParent();
        }
        return p;
    }

    private static String run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertThat(Main.run(args)).as(buf.toString(StandardCharsets.UTF_8)).isZero();
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void inputsFromNpyGiveTheMatrixProductAndJsonReportsEveryFigure() throws Exception {
        Path file = root().resolve("data/einsum/bin_matmul_256.json");
        Instance inst = Instance.read(file);
        List<double[]> v = Operands.seededValues(inst, 5);
        Path in = Files.createDirectory(tmp.resolve("in"));
        Npy.write(in.resolve("0.npy"), inst.shape(0), v.get(0));
        Npy.write(in.resolve("1.npy"), inst.shape(1), v.get(1));
        Path out = tmp.resolve("out.npy");
        for (String strategy : List.of("none", "reactive", "proactive")) {
            String text = run("einsum", file.toString(), "--inputs", in.toString(), "--output", out.toString(),
                    "--repeat", "3", "--strategy", strategy, "--json", "--profile");
            JsonObject j = JsonParser.parseString(text.strip()).getAsJsonObject();
            assertThat(j.get("strategy").getAsString()).isEqualTo(strategy);
            assertThat(j.get("allocations").getAsInt()).isEqualTo(1);
            assertThat(j.get("times_ms").getAsJsonArray()).hasSize(3);
            assertThat(j.get("median_ms").getAsDouble()).isPositive();
            assertThat(j.get("liveness_lower_bound_bytes").getAsLong()).isEqualTo(256 * 256 * 8);
            assertThat(j.get("peak_live_bytes").getAsLong()).isGreaterThanOrEqualTo(256 * 256 * 8);
            assertThat(j.has("histogram_bytes")).isTrue();
            double hitRate = j.get("hit_rate").getAsDouble();
            if (strategy.equals("none")) {
                assertThat(hitRate).isZero();
                assertThat(j.get("device_allocations").getAsLong()).isEqualTo(3);
            } else {
                assertThat(hitRate).isEqualTo(1.0);
                assertThat(j.get("device_allocations").getAsLong()).isZero();
            }
            // C = A B by plain loops.
            double[] c = Npy.read(out, new long[] {256, 256}).data();
            double[] a = v.get(0);
            double[] b = v.get(1);
            for (int i : new int[] {0, 17, 255}) {
                for (int k : new int[] {0, 100, 255}) {
                    double s = 0;
                    for (int x = 0; x < 256; x++) {
                        s += a[i * 256 + x] * b[x * 256 + k];
                    }
                    assertThat(c[i * 256 + k]).isCloseTo(s, org.assertj.core.data.Offset.offset(1e-12));
                }
            }
        }
    }

    @Test
    void textOutputWithProfilePrintsTheHistogramAndAScalarIsA0dArray() throws Exception {
        Path file = root().resolve("data/einsum/str_mps_varying_inner_product_200.json");
        Path out = tmp.resolve("s.npy");
        String text = run("einsum", file.toString(), "--repeat", "1", "--warmup", "0", "--profile", "--output",
                out.toString());
        assertThat(text).contains("str_mps_varying_inner_product_200").contains("liveness lower bound")
                .contains("size <=").contains("intermediates 199");
        assertThat(Npy.read(out, new long[0]).data()).hasSize(1);
    }

    @Test
    void badInputsFailWithTheFileNamed() throws Exception {
        Path file = root().resolve("data/einsum/bin_matmul_256.json");
        Path in = Files.createDirectory(tmp.resolve("bad"));
        Npy.write(in.resolve("0.npy"), new long[] {256, 256}, new double[256 * 256]);
        Npy.write(in.resolve("1.npy"), new long[] {256, 255}, new double[256 * 255]);
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.run("einsum", file.toString(), "--inputs", in.toString());
        } finally {
            System.setErr(old);
        }
        assertThat(code).isNotZero();
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("1.npy").contains("(256, 255), expected (256, 256)");
    }
}

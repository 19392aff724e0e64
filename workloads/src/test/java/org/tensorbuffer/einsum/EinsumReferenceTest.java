package org.tensorbuffer.einsum;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;

/**
 * Every one of the 14 instances, contracted from the seeded operands (seed 42), equals the NumPy result of
 * {@code scripts/einsum_reference.py} on the same operands along the same path.
 *
 * <p>The references are committed in {@code src/test/resources/einsum/} (made by {@code scripts/einsum_references.sh}):
 * the whole result when it has at most 4096 elements, compared by relative error in norm (at most 1e-10); for larger
 * results (the bin_* instances, the matrix chain, mera_open's 43 M elements, the 2^18 of tn focus) the norm, the sum
 * and 64 entries at evenly spaced flat positions, each within 1e-10 relative to the norm: a wrong value or a wrong
 * label order changes entries at fixed positions even where it keeps the norm. Where python3 has numpy, the results
 * of the instances whose NumPy reference takes seconds (the bin_* instances and the matrix chain) are also compared
 * whole ({@code --compare}); the others take NumPy 15 s to minutes on the 2-core build machine.
 */
class EinsumReferenceTest {
    private static final double TOL = 1e-10;
    private static final Set<String> FULL_NUMPY_COMPARE = Set.of("bin_batched_matmul_b32_m64_n64_k64",
            "bin_elementwise_mul_2048x2048", "bin_matmul_256", "bin_outer_product_4096",
            "str_matrix_chain_multiplication_100");
    private static TensorContext ctx;

    @TempDir
    Path tmp;

    @BeforeAll
    static void open() {
        ctx = TensorContext.create("cpu", AllocationStrategy.REACTIVE);
    }

    @AfterAll
    static void close() {
        ctx.close();
    }

    static Stream<String> instances() throws Exception {
        try (Stream<Path> s = Files.list(TestSupport.root().resolve("data/einsum"))) {
            List<String> names = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".json"))
                    .map(n -> n.substring(0, n.length() - 5)).sorted().toList();
            assertThat(names).hasSize(14);
            return names.stream();
        }
    }

    @ParameterizedTest
    @MethodSource("instances")
    void matchesNumpyReference(String name) throws Exception {
        Path refFile = TestSupport.root().resolve("workloads/src/test/resources/einsum/" + name + ".json");
        JsonObject ref = JsonParser.parseString(Files.readString(refFile)).getAsJsonObject();
        String path = ref.get("path").getAsString();
        long seed = ref.get("seed").getAsLong();
        Instance inst = Instance.read(TestSupport.instance(name));
        Contraction plan = Contraction.plan(inst, path);
        double[] ours;
        long[] shape;
        try (Tensor r = new Evaluator(plan).evaluate(Operands.seeded(inst, seed, ctx), true)) {
            ours = r.toDoubleArray();
            shape = r.shape().dims();
        }
        JsonArray refShape = ref.getAsJsonArray("shape");
        assertThat(shape).as("result shape").hasSize(refShape.size());
        for (int i = 0; i < shape.length; i++) {
            assertThat(shape[i]).isEqualTo(refShape.get(i).getAsLong());
        }
        double norm = ref.get("norm").getAsDouble();
        assertThat(norm).isPositive();
        if (ref.has("values")) {
            JsonArray v = ref.getAsJsonArray("values");
            assertThat(ours).hasSize(v.size());
            double err = 0;
            for (int i = 0; i < ours.length; i++) {
                double d = ours[i] - v.get(i).getAsDouble();
                err += d * d;
            }
            assertThat(Math.sqrt(err) / norm).as("relative error in norm").isLessThanOrEqualTo(TOL);
        } else {
            double ss = 0;
            double sum = 0;
            for (double x : ours) {
                ss += x * x;
                sum += x;
            }
            assertThat(Math.abs(Math.sqrt(ss) - norm) / norm).as("norm").isLessThanOrEqualTo(TOL);
            assertThat(Math.abs(sum - ref.get("sum").getAsDouble()) / norm).as("sum").isLessThanOrEqualTo(TOL);
            JsonArray idx = ref.getAsJsonArray("sample_index");
            JsonArray val = ref.getAsJsonArray("sample_value");
            for (int j = 0; j < idx.size(); j++) {
                int i = idx.get(j).getAsInt();
                assertThat(Math.abs(ours[i] - val.get(j).getAsDouble()) / norm).as("entry %d", i)
                        .isLessThanOrEqualTo(TOL);
            }
            if (FULL_NUMPY_COMPARE.contains(name) && TestSupport.hasNumpy()) {
                Path out = tmp.resolve("ours.npy");
                Npy.write(out, shape, ours);
                TestSupport.Result res = TestSupport.reference(TestSupport.instance(name).toString(), "--path", path,
                        "--seed", Long.toString(seed), "--compare", out.toString());
                assertThat(res.out()).contains("rel_err");
                JsonObject cmp = JsonParser.parseString(res.out().strip().lines().reduce((a, b) -> b).orElseThrow())
                        .getAsJsonObject();
                assertThat(cmp.get("rel_err").getAsDouble()).as("NumPy --compare").isLessThanOrEqualTo(TOL);
                assertThat(res.exit()).isZero();
            }
        }
    }
}

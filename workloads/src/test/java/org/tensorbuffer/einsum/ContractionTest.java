package org.tensorbuffer.einsum;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;

/**
 * Each kind of pairwise step against a plain-loop einsum (the sum over every assignment of the labels of the product
 * of the operands' entries): contractions with any label order, traces and diagonals, batch (Hadamard) labels,
 * outer products, sums over labels only one operand has, scalar results, unary steps, and multi-step paths.
 */
class ContractionTest {
    private static TensorContext ctx;

    @BeforeAll
    static void open() {
        ctx = TensorContext.create("cpu", AllocationStrategy.REACTIVE);
    }

    @AfterAll
    static void close() {
        ctx.close();
    }

    /** An instance JSON for {@code format} with label sizes {@code dims} (label -> size, as "i2 j3") and a path. */
    private static Instance instance(String format, String dims, String path) {
        String[] lr = format.split("->", -1);
        String[] terms = lr[0].split(",", -1);
        java.util.Map<Integer, Long> size = new java.util.HashMap<>();
        for (String d : dims.trim().split("\\s+")) {
            size.put(d.codePointAt(0), Long.parseLong(d.substring(Character.charCount(d.codePointAt(0)))));
        }
        StringBuilder shapes = new StringBuilder("[");
        for (int t = 0; t < terms.length; t++) {
            shapes.append(t == 0 ? "" : ",").append('[');
            int[] cps = terms[t].codePoints().toArray();
            for (int i = 0; i < cps.length; i++) {
                shapes.append(i == 0 ? "" : ",").append(size.get(cps[i]));
            }
            shapes.append(']');
        }
        shapes.append(']');
        String json = "{\"name\":\"t\",\"format_string\":\"" + format + "\",\"shapes\":" + shapes
                + ",\"dtype\":\"float64\",\"paths\":{\"p\":{\"path\":" + path + "}}}";
        return Instance.parse(json, "test");
    }

    /** Plain-loop einsum over all label assignments. */
    private static double[] bruteForce(Instance inst, List<double[]> ops) {
        int labels = inst.labelCount();
        long[] dims = new long[labels];
        for (int l = 0; l < labels; l++) {
            dims[l] = inst.labelDim(l);
        }
        int[] out = inst.output();
        long outSize = 1;
        for (int l : out) {
            outSize *= dims[l];
        }
        double[] r = new double[(int) outSize];
        long[] idx = new long[labels];
        while (true) {
            double prod = 1;
            for (int k = 0; k < inst.operandCount(); k++) {
                int[] t = inst.term(k);
                long[] sh = inst.shape(k);
                long flat = 0;
                for (int d = 0; d < t.length; d++) {
                    flat = flat * sh[d] + idx[t[d]];
                }
                prod *= ops.get(k)[(int) flat];
            }
            long o = 0;
            for (int l : out) {
                o = o * dims[l] + idx[l];
            }
            r[(int) o] += prod;
            int l = labels - 1;
            while (l >= 0 && ++idx[l] == dims[l]) {
                idx[l] = 0;
                l--;
            }
            if (l < 0) {
                return r;
            }
        }
    }

    private static double[] evaluate(Instance inst, List<double[]> values) {
        List<Tensor> ops = new ArrayList<>();
        for (int k = 0; k < values.size(); k++) {
            ops.add(ctx.fromArray(values.get(k), Shape.of(inst.shape(k))));
        }
        Contraction plan = Contraction.plan(inst, "p");
        try (Tensor r = new Evaluator(plan).evaluate(ops, true)) {
            assertThat(r.shape().dims()).containsExactly(inst.outputShape());
            assertThat(ops).allMatch(Tensor::isClosed);
            return r.toDoubleArray();
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
        "ij,jk->ik; i3 j4 k5; [[0,1]]",
        "ij,jk->ki; i3 j4 k5; [[0,1]]",
        "ji,kj->ik; i3 j4 k5; [[1,0]]",
        "bij,bjk->bik; b2 i3 j4 k5; [[0,1]]",
        "ibj,kjb->bki; b2 i3 j4 k5; [[0,1]]",
        "ij,ij->ij; i3 j4; [[0,1]]",
        "ij,ji->ij; i3 j4; [[0,1]]",
        "i,j->ij; i3 j4; [[0,1]]",
        "i,j->ji; i3 j4; [[0,1]]",
        "i,i->; i7; [[0,1]]",
        "ij,ij->; i3 j4; [[0,1]]",
        "ii->; i4; [[0]]",
        "ii->i; i4; [[0]]",
        "iij,jk->ik; i3 j4 k2; [[0,1]]",
        "ijk,kl->il; i3 j4 k2 l3; [[0,1]]",
        "ij,jkl->i; i3 j4 k2 l3; [[0,1]]",
        "abc,cd,de->abe; a2 b3 c4 d2 e3; [[0,1],[0,1]]",
        "ab,bc,cd,da->; a2 b3 c4 d5; [[1,3],[0,1],[0,1]]",
        "ab,ac,ad->abcd; a2 b3 c2 d3; [[0,2],[0,1]]",
        "αβ,βγ->γα; α3 β4 γ2; [[0,1]]",
        "ij->ji; i3 j4; []",
        "ijk->ki; i2 j3 k4; [[0]]",
    })
    void matchesPlainLoops(String format, String dims, String path) {
        Instance inst = instance(format, dims, path);
        List<double[]> values = Operands.seededValues(inst, 7);
        double[] ours = evaluate(inst, values);
        double[] ref = bruteForce(inst, values);
        assertThat(ours).hasSize(ref.length);
        for (int i = 0; i < ref.length; i++) {
            assertThat(ours[i]).as("element %d of %s", i, format).isCloseTo(ref[i],
                    org.assertj.core.data.Offset.offset(1e-12 * (1 + Math.abs(ref[i]))));
        }
    }

    @Test
    void planAvoidsPermutesWhenTheLayoutFits() {
        // A^T B: the GEMM reads A transposed, nothing is copied.
        Contraction c = Contraction.plan(instance("ji,jk->ik", "i3 j4 k5", "[[0,1]]"), "p");
        Contraction.Step s = c.steps().get(0);
        assertThat(s.prepA().isIdentity()).isTrue();
        assertThat(s.prepB().isIdentity()).isTrue();
        assertThat(c.finalPrep()).isNull();
        assertThat(c.schedule()).hasSize(1);
        // (A B)^T = B^T A^T: the output order ki is reached by swapping the operands.
        Contraction t = Contraction.plan(instance("ij,jk->ki", "i3 j4 k5", "[[0,1]]"), "p");
        assertThat(t.steps().get(0).swap()).isTrue();
        assertThat(t.schedule()).hasSize(1);
    }

    @Test
    void randomNetworksMatchPlainLoops() {
        SplittableRandom rnd = new SplittableRandom(11);
        String letters = "abcdefg";
        for (int trial = 0; trial < 40; trial++) {
            int n = 2 + rnd.nextInt(3);
            List<String> terms = new ArrayList<>();
            for (int k = 0; k < n; k++) {
                int r = 1 + rnd.nextInt(3);
                StringBuilder t = new StringBuilder();
                for (int i = 0; i < r; i++) {
                    t.append(letters.charAt(rnd.nextInt(letters.length())));
                }
                terms.add(t.toString());
            }
            String all = String.join("", terms);
            StringBuilder out = new StringBuilder();
            for (char c : letters.toCharArray()) {
                if (all.indexOf(c) >= 0 && rnd.nextInt(3) == 0) {
                    out.append(c);
                }
            }
            StringBuilder dims = new StringBuilder();
            for (char c : letters.toCharArray()) {
                dims.append(c).append(1 + rnd.nextInt(3)).append(' ');
            }
            StringBuilder path = new StringBuilder("[");
            for (int left = n; left > 1; left--) {
                int i = rnd.nextInt(left);
                int j = rnd.nextInt(left - 1);
                if (j >= i) {
                    j++;
                }
                path.append(left == n ? "" : ",").append('[').append(i).append(',').append(j).append(']');
            }
            path.append(']');
            String format = String.join(",", terms) + "->" + out;
            Instance inst = instance(format, dims.toString(), path.toString());
            List<double[]> values = Operands.seededValues(inst, trial);
            double[] ours = evaluate(inst, values);
            double[] ref = bruteForce(inst, values);
            for (int i = 0; i < ref.length; i++) {
                assertThat(ours[i]).as("%s %s element %d", format, path, i).isCloseTo(ref[i],
                        org.assertj.core.data.Offset.offset(1e-12 * (1 + Math.abs(ref[i]))));
            }
        }
    }

    @Test
    void rejectsBadInstancesAndPaths() {
        assertThatThrownBy(() -> instance("ij,jk->ik", "i2 j3 k4", "[[0,1],[0,1]]"))
                .hasMessageContaining("step 1").hasMessageContaining("position");
        assertThatThrownBy(() -> instance("ij,jk->ik", "i2 j3 k4", "[]")).hasMessageContaining("leaves 2 operands");
        assertThatThrownBy(() -> instance("ij,jk->ix", "i2 j3 k4", "[[0,1]]"))
                .hasMessageContaining("output label 'x'");
        assertThatThrownBy(() -> Instance.parse("{\"format_string\":\"ij,jk->ik\",\"shapes\":[[2,3],[4,5]],"
                + "\"dtype\":\"float64\"}", "x.json")).hasMessageContaining("x.json")
                .hasMessageContaining("label 'j' has size 3 and 4");
        assertThatThrownBy(() -> Instance.parse("{\"format_string\":\"ij,jk->ik\",\"shapes\":[[2,3]],"
                + "\"dtype\":\"float64\"}", "x.json")).hasMessageContaining("2 terms").hasMessageContaining("1 shapes");
        assertThatThrownBy(() -> Instance.parse("{\"format_string\":\"ij->ij\",\"shapes\":[[2,3,4]],"
                + "\"dtype\":\"float64\"}", "x.json")).hasMessageContaining("3 dimensions");
        assertThatThrownBy(() -> Instance.parse("{\"format_string\":\"ij->ij\",\"shapes\":[[2,3]],"
                + "\"dtype\":\"float32\"}", "x.json")).hasMessageContaining("float32");
        assertThatThrownBy(() -> Instance.parse("{not json", "x.json")).hasMessageContaining("x.json");
        Instance ok = instance("ij,jk->ik", "i2 j3 k4", "[[0,1]]");
        assertThatThrownBy(() -> ok.path("opt_size")).hasMessageContaining("no path 'opt_size'");
        List<Tensor> wrong = List.of(ctx.zeros(Shape.of(2, 3), org.tensorbuffer.types.DType.F64),
                ctx.zeros(Shape.of(3, 5), org.tensorbuffer.types.DType.F64));
        assertThatThrownBy(() -> new Evaluator(Contraction.plan(ok, "p")).evaluate(wrong, false))
                .hasMessageContaining("operand 1").hasMessageContaining("[3, 4]");
        wrong.forEach(Tensor::close);
    }

    @Test
    void unicodeLabelsBeyondTheBmpAreOneLabelEach() {
        Instance inst = instance("\uD835\uDC9Cb,b\uD835\uDC9C->", "\uD835\uDC9C2 b3", "[[0,1]]");
        assertThat(inst.labelCount()).isEqualTo(2);
        List<double[]> values = Operands.seededValues(inst, 3);
        assertThat(evaluate(inst, values)[0]).isCloseTo(bruteForce(inst, values)[0],
                org.assertj.core.data.Offset.offset(1e-12));
        assertThat(Arrays.toString(inst.term(0))).isEqualTo("[0, 1]");
    }
}

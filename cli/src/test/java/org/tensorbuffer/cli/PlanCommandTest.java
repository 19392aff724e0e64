package org.tensorbuffer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tensorbuffer plan}: figures checked against hand computation and against
 * {@code cli/scripts/plan_schedule_reference.py} (an independent Python implementation of the schedule).
 */
class PlanCommandTest {

    static Path instance(String name) {
        for (Path dir : new Path[] {Path.of("..", "data", "einsum"), Path.of("/work/shared/data/einsum")}) {
            Path p = dir.resolve(name);
            if (Files.isReadable(p)) {
                return p;
            }
        }
        assumeTrue(false, "einsum instance " + name + " not found");
        return null;
    }

    @Test
    void matmulNeedsBothOperandsAndTheResult(@TempDir Path tmp) throws Exception {
        Path svg = tmp.resolve("plan.svg");
        CliRun r = CliRun.of("plan", instance("bin_matmul_256.json").toString(), "--svg", svg.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        // A, B and C = A·B, 256×256 float64 each (524,288 B), all live when C is computed
        assertThat(r.out()).contains("tensors     3 (1 escape the run)")
                .containsPattern("greedy-by-size +1,572,864 +1,572,864 +1\\.0000");
        String doc = Files.readString(svg);
        assertThat(doc).startsWith("<svg");
        assertThat(doc.split("<title>", -1)).hasSize(4);
        // the drawing names the instance and the command, and has round, labelled axes
        org.w3c.dom.Element root = org.tensorbuffer.chart.SvgCharts.svgs(doc).get(0);
        String title = String.join(" ", org.tensorbuffer.chart.SvgCharts.texts(root, "title"));
        assertThat(title).contains("plan of bin_matmul_256.json (contraction schedule, path opt_flops)")
                .contains("./tensorbuffer plan " + instance("bin_matmul_256.json") + " --svg " + svg)
                .contains("Live here:");
        org.tensorbuffer.chart.SvgCharts.assertRoundTicks(org.tensorbuffer.chart.SvgCharts.texts(root, "ytick"),
                "arena offset");
        org.tensorbuffer.chart.SvgCharts.assertRoundTicks(org.tensorbuffer.chart.SvgCharts.texts(root, "xtick"),
                "logical time");
        assertThat(org.tensorbuffer.chart.SvgCharts.texts(root, "ytick")).last().asString().endsWith(" MiB");
    }

    @Test
    void scheduleFiguresMatchThePythonReference() {
        CliRun r = CliRun.of("plan", instance("lm_batch_likelihood_sentence_3_12d.json").toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        // plan_schedule_reference.py: n=75 lb=33564224 size=34734592 inorder=38164480
        assertThat(r.out()).contains("tensors     75 ")
                .containsPattern("greedy-by-size +34,734,592 +33,564,224 +1\\.0349")
                .containsPattern("in-order-best-fit +38,164,480 +33,564,224");
    }

    @Test
    void decodeStepOfAModel() {
        Path model = Path.of("..", "models", "stories260K.bin");
        assumeTrue(Files.isReadable(model), "model not present");
        CliRun r = CliRun.of("plan", "--model", model.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        // stories260K: dim 64, hidden 172, 5 layers, 8 heads, seq_len 512. Per layer 12 tensors (xb, the stacked
        // q/k/v product, rope'd q and k, attention output and its [8, 512] scratch, o, xb, the stacked w1/w3
        // product, silu, product, w2 output), plus x, the final norm and the logits: 63. Peak: during attention x,
        // q, the output (64 floats = 256 B each) and the scratch (8 * 512 * 4 = 16,384 B) = 17,152 B, all multiples
        // of 64.
        assertThat(r.out()).contains("recorded decode step").contains("tensors     63 (0 escape the run)")
                .contains("peak live   17,152 B requested, 17,152 B aligned")
                .containsPattern("greedy-by-size +17,152 +17,152 +1\\.0000");
    }

    @Test
    void badInputIsReported() {
        CliRun r = CliRun.of("plan", instance("bin_matmul_256.json").toString(), "--path", "opt_nothing");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("no path 'opt_nothing'");
        CliRun missing = CliRun.of("plan", "no-such-instance.json");
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).contains("no-such-instance.json");
    }
}

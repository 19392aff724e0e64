package org.tensorbuffer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorbuffer.llama.TestModels;
import org.tensorbuffer.memory.ReservationPlan;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/** {@code --save-plan} and {@code --reservation-plan} of {@code decode} and {@code einsum}. */
class ReservationPlanOptionsTest {
    @TempDir
    Path tmp;

    private static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (!Files.isDirectory(p.resolve("data/einsum"))) {
            p = p.getParent();
        }
        return p;
    }

    private static JsonObject json(CliRun r) {
        return JsonParser.parseString(r.out()).getAsJsonObject();
    }

    @Test
    void decodeSavesThePlanAndASecondRunReservesItWithoutRecording() throws Exception {
        Path f = tmp.resolve("stories.plan");
        CliRun first = CliRun.of("decode", "--model", TestModels.stories().toString(), "--temperature", "0",
                "--steps", "16", "--strategy", "proactive", "--json", "--save-plan", f.toString());
        assertThat(first.exitCode()).as(first.err()).isZero();
        ReservationPlan plan = ReservationPlan.load(f);
        // stories260K: dim 64, 5 layers, 8 heads, 4 KV heads (kv_dim 32), seq_len 512, vocab 512: the KV cache is
        // 2 x 5 layers of [512, 32] floats, the attention scores [8 heads, 512].
        assertThat(plan.count(Shape.of(512, 32), DType.F32)).isEqualTo(10);
        assertThat(plan.count(Shape.of(8, 512), DType.F32)).isEqualTo(1);
        assertThat(plan.count(Shape.of(512), DType.F32)).isGreaterThanOrEqualTo(1); // the logits

        CliRun second = CliRun.of("decode", "--model", TestModels.stories().toString(), "--temperature", "0",
                "--steps", "16", "--strategy", "proactive", "--json", "--reservation-plan", f.toString());
        assertThat(second.exitCode()).as(second.err()).isZero();
        JsonObject a = json(first);
        JsonObject b = json(second);
        assertThat(b.get("ids")).isEqualTo(a.get("ids"));
        assertThat(b.get("raw_allocs_first_step").getAsLong()).isZero();
        assertThat(b.get("tensorbuffer_hit_rate").getAsDouble()).isEqualTo(1.0);
    }

    @Test
    void einsumSavesAndLoadsThePlanOfAnEvaluation() throws Exception {
        Path inst = root().resolve("data/einsum/bin_matmul_256.json");
        Path f = tmp.resolve("matmul.plan");
        CliRun first = CliRun.of("einsum", inst.toString(), "--strategy", "proactive", "--repeat", "1", "--warmup",
                "0", "--json", "--save-plan", f.toString());
        assertThat(first.exitCode()).as(first.err()).isZero();
        // one [256, 256] float64 result (GEMM into it directly): the plan holds it
        assertThat(ReservationPlan.load(f).count(Shape.of(256, 256), DType.F64)).isEqualTo(1);
        CliRun second = CliRun.of("einsum", inst.toString(), "--strategy", "proactive", "--repeat", "1",
                "--warmup", "0", "--json", "--reservation-plan", f.toString());
        assertThat(second.exitCode()).as(second.err()).isZero();
        assertThat(json(second).get("device_allocations").getAsLong()).isZero();
        assertThat(json(second).get("result_norm")).isEqualTo(json(first).get("result_norm"));
    }

    @Test
    void badPlanFilesFailWithOneLineNamingTheFile() throws Exception {
        Path text = Files.writeString(tmp.resolve("not-a-plan.txt"), "hello world\nsecond line\n");
        Path binary = Files.write(tmp.resolve("binary.plan"), new byte[] {(byte) 0xff, (byte) 0xfe, 0, 1, 2});
        Path badCount = Files.writeString(tmp.resolve("count.plan"), "float32 [4,8] -3\n");
        for (Path p : new Path[] {text, binary, badCount}) {
            CliRun r = CliRun.of("decode", "--model", TestModels.stories().toString(), "--steps", "4",
                    "--reservation-plan", p.toString());
            assertThat(r.exitCode()).as(r.err()).isEqualTo(2);
            assertThat(r.err().strip()).startsWith("tensorbuffer decode: ").contains(p.toString())
                    .doesNotContain("\n").doesNotContain("Exception");
        }
        CliRun missing = CliRun.of("einsum", root().resolve("data/einsum/bin_matmul_256.json").toString(),
                "--strategy", "proactive", "--reservation-plan", tmp.resolve("nope.plan").toString());
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err().strip()).contains("nope.plan").contains("file not found").doesNotContain("\n");
    }

    @Test
    void planOptionsNeedTheProactiveStrategy() {
        CliRun r = CliRun.of("decode", "--model", TestModels.stories().toString(), "--steps", "4", "--strategy",
                "reactive", "--save-plan", tmp.resolve("x.plan").toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err().strip()).isEqualTo("tensorbuffer decode: --save-plan needs --strategy proactive "
                + "(the strategy is reactive)");
        assertThat(Files.exists(tmp.resolve("x.plan"))).isFalse();
    }
}

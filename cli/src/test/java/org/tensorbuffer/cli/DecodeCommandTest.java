package org.tensorbuffer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorbuffer.llama.TestModels;

class DecodeCommandTest {
    @TempDir
    Path tmp;

    @Test
    void aidreamsOnceUponATimeGreedy128() {
        CliRun r = CliRun.of("decode", "--model", TestModels.aidreams().toString(), "--tokenizer",
                TestModels.aidreamsTokenizer().toString(), "--prompt", "Once upon a time", "--temperature", "0",
                "--steps", "128");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("Once upon a time, pixels unfolding like petals.");
        // The whole text, byte for byte as run.c prints it.
        assertThat(r.out()).isEqualTo(TestModels.resource("aidreams260K-greedy-128-once.txt"));
        assertThat(r.err()).contains("achieved tok/s");
    }

    @Test
    void findsTheTokenizerNextToTheModel() {
        CliRun r = CliRun.of("decode", "--model", TestModels.aidreams().toString(), "--prompt", "Once upon a time",
                "--temperature", "0", "--steps", "20", "--strategy", "reactive");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("Once upon a time, pixels");
    }

    @Test
    void printIdsPrintsTheSampledIdsOnOneLine() {
        CliRun r = CliRun.of("decode", "--model", TestModels.aidreams().toString(), "--prompt", "Once upon a time",
                "--temperature", "0", "--steps", "128", "--print-ids", "--strategy", "none");
        assertThat(r.exitCode()).as(r.err()).isZero();
        String expected = Arrays.stream(TestModels.ids("aidreams260K-greedy-128-once.ids")).mapToObj(Integer::toString)
                .collect(Collectors.joining(" "));
        assertThat(r.out()).isEqualTo(expected + System.lineSeparator());
    }

    @Test
    void storiesWithoutTokenizerPrintsIds() {
        CliRun r = CliRun.of("decode", "--model", TestModels.stories().toString(), "--temperature", "0",
                "--steps", "16");
        assertThat(r.exitCode()).as(r.err()).isZero();
        int[] expected = Arrays.copyOf(TestModels.ids("stories260K-greedy-256.ids"), 16);
        assertThat(r.out().trim().split(" ")).containsExactly(
                Arrays.stream(expected).mapToObj(Integer::toString).toArray(String[]::new));
        assertThat(r.err()).contains("no tokenizer");
    }

    @Test
    void jsonReportsTheRun() {
        CliRun r = CliRun.of("decode", "--model", TestModels.stories().toString(), "--temperature", "0",
                "--steps", "64", "--strategy", "proactive", "--json");
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        assertThat(o.getAsJsonObject("model").get("dim").getAsInt()).isEqualTo(64);
        assertThat(o.getAsJsonObject("model").get("n_kv_heads").getAsInt()).isEqualTo(4);
        assertThat(o.get("device").getAsString()).isEqualTo("cpu");
        assertThat(o.get("strategy").getAsString()).isEqualTo("proactive");
        assertThat(o.get("tokens").getAsInt()).isEqualTo(64);
        assertThat(o.get("tokens_per_s").getAsDouble()).isPositive();
        assertThat(o.get("raw_allocs_total").getAsLong()).isPositive();
        assertThat(o.get("raw_allocs_per_token_steady").getAsDouble()).isZero();
        assertThat(o.get("tensorbuffer_hit_rate").getAsDouble()).isEqualTo(1.0);
        assertThat(o.get("pool_hit_rate").isJsonNull()).isTrue(); // the pool was never asked
        assertThat(o.get("peak_live_bytes").getAsLong()).isPositive();
        assertThat(o.get("peak_reserved_bytes").getAsLong()).isGreaterThanOrEqualTo(
                o.get("peak_live_bytes").getAsLong());
        assertThat(o.getAsJsonArray("ids")).hasSize(64);
    }

    @Test
    void clearErrors() throws IOException {
        CliRun steps = CliRun.of("decode", "--model", TestModels.stories().toString(), "--steps", "513",
                "--print-ids");
        assertThat(steps.exitCode()).isEqualTo(2);
        assertThat(steps.err()).contains("stories260K.bin").contains("seq_len 512").contains("steps 513");

        byte[] all = Files.readAllBytes(TestModels.stories());
        Path cut = tmp.resolve("truncated.bin");
        Files.write(cut, Arrays.copyOf(all, 1000));
        CliRun trunc = CliRun.of("decode", "--model", cut.toString());
        assertThat(trunc.exitCode()).isEqualTo(2);
        assertThat(trunc.err()).contains("truncated.bin").contains("'token_embedding_table'").contains("truncated");

        CliRun vocab = CliRun.of("decode", "--model", TestModels.aidreams().toString(), "--tokenizer",
                TestModels.stories().toString());
        assertThat(vocab.exitCode()).isEqualTo(2);
        assertThat(vocab.err()).contains("stories260K.bin").contains("vocab_size");

        CliRun missing = CliRun.of("decode", "--model", tmp.resolve("nope.bin").toString());
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).contains("nope.bin");

        CliRun device = CliRun.of("decode", "--model", TestModels.stories().toString(), "--device", "nosuch:0",
                "--steps", "4");
        assertThat(device.exitCode()).isEqualTo(1); // a device that cannot be opened is a run-time failure
        assertThat(device.err()).contains("nosuch:0").doesNotContain("\tat ");

        CliRun strategy = CliRun.of("decode", "--model", TestModels.stories().toString(), "--strategy", "bogus");
        assertThat(strategy.exitCode()).isEqualTo(2);
        assertThat(strategy.err()).contains("unknown strategy 'bogus'");
    }

    @Test
    void helpDocumentsEveryFlag() {
        CliRun r = CliRun.of("decode", "--help");
        assertThat(r.exitCode()).isZero();
        for (String flag : new String[] {"--model", "--tokenizer", "--prompt", "--steps", "--temperature", "--topp",
            "--seed", "--device", "--strategy", "--print-ids", "--json"}) {
            assertThat(r.out()).contains(flag);
        }
    }
}

package org.tensorbuffer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;

class CompareCommandTest {
    @Test
    void tableWithRatiosToNone() {
        CliRun r = CliRun.of("compare", "--steps", "48", "--runs", "2", "--warmup", "0");
        assertThat(r.exitCode()).as(r.err()).isZero();
        String[] lines = r.out().lines().filter(l -> l.startsWith("|")).toArray(String[]::new);
        assertThat(lines).hasSize(5); // header, separator, none, reactive, proactive
        assertThat(lines[0]).contains("tok/s").contains("vs none").contains("allocs/token").contains("TensorBuffer hit")
                .contains("peak reserved");
        assertThat(lines[2]).startsWith("| none").contains("1.00x");
        assertThat(lines[3]).startsWith("| reactive");
        assertThat(lines[4]).startsWith("| proactive").contains("100.00%").contains("0.00x");
        assertThat(r.out()).contains("Token ids identical across all runs and strategies: yes");
        assertThat(r.err()).contains("compare: [6/6]");
    }

    @Test
    void jsonHasEveryRun() {
        CliRun r = CliRun.of("compare", "--steps", "16", "--runs", "1", "--warmup", "0", "--json", "--quiet",
                "--strategies", "reactive,proactive");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).isEmpty();
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        assertThat(o.get("ids_identical").getAsBoolean()).isTrue();
        JsonArray results = o.getAsJsonArray("results");
        assertThat(results).hasSize(2);
        JsonObject proactive = results.get(1).getAsJsonObject();
        assertThat(proactive.get("strategy").getAsString()).isEqualTo("proactive");
        assertThat(proactive.get("raw_allocs_per_token_steady_median").getAsDouble()).isZero();
        assertThat(proactive.getAsJsonArray("runs")).hasSize(1);
        assertThat(results.get(0).getAsJsonObject().get("pool_hit_rate_steady_median").getAsDouble())
                .isGreaterThanOrEqualTo(0.99);
    }

    @Test
    void badStrategyIsAnError() {
        CliRun r = CliRun.of("compare", "--strategies", "none,fast");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("unknown strategy 'fast'");
    }
}

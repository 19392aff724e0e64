package org.tensorbuffer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MemoryTimelineOptionTest {

    @Test
    void decodeWritesTheMemoryTimelinePage(@TempDir Path dir) throws Exception {
        Path model = Path.of("..", "models", "stories260K.bin");
        Path html = dir.resolve("timeline.html");
        CliRun r = CliRun.of("decode", "--model", model.toString(), "--temperature", "0", "--steps", "8",
                "--print-ids", "--memory-timeline", html.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).contains("memory timeline written to " + html);
        String page = Files.readString(html);
        assertThat(page).startsWith("<!DOCTYPE html>").contains("<svg id=\"timeline\"")
                .contains("<polygon class=\"live\"").contains("TensorContext[cpu, PROACTIVE]")
                .contains("TensorBuffer[cpu/default]");
        PageChecks.timeline(page, "decode stories260K.bin", "./tensorbuffer decode --model ");
    }

    @Test
    void einsumWritesTheMemoryTimelinePage(@TempDir Path dir) throws Exception {
        Path instance = Path.of("..", "data", "einsum", "str_matrix_chain_multiplication_100.json");
        Path html = dir.resolve("einsum.html");
        CliRun r = CliRun.of("einsum", instance.toString(), "--repeat", "2", "--warmup", "0", "--strategy",
                "reactive", "--json", "--memory-timeline", html.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("\"memory_timeline\":\"" + html.toString().replace("\\", "\\\\") + "\"");
        String page = Files.readString(html);
        assertThat(page).startsWith("<!DOCTYPE html>").contains("<svg id=\"timeline\"")
                .contains("<polygon class=\"live\"").contains("TensorContext[cpu, REACTIVE]")
                .contains("BufferPool[cpu/default]").contains("F64");
        PageChecks.timeline(page, "str_matrix_chain_multiplication_100", "./tensorbuffer einsum ");
    }

    @Test
    void compareWritesOneTimelinePagePerStrategy(@TempDir Path dir) throws Exception {
        Path html = dir.resolve("compare.html");
        CliRun r = CliRun.of("compare", "--steps", "8", "--runs", "1", "--warmup", "0", "--strategies",
                "reactive,proactive", "--memory-timeline", html.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        for (String s : new String[] {"reactive", "proactive"}) {
            Path page = dir.resolve("compare-" + s + ".html");
            assertThat(r.err()).contains("compare: memory timeline of " + s + " written to " + page);
            PageChecks.timeline(Files.readString(page), "decode stories260K.bin (" + s + ", cpu)",
                    "./tensorbuffer compare --steps 8");
        }
        assertThat(html).doesNotExist();
    }
}

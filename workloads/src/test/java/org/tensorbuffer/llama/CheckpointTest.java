package org.tensorbuffer.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    @TempDir
    Path tmp;

    @Test
    void readsHeaderAndLaysOutWeightsAsRunC() throws IOException {
        try (Checkpoint ck = Checkpoint.open(TestModels.stories())) {
            Config c = ck.config();
            assertThat(c).isEqualTo(new Config(64, 172, 5, 8, 4, 512, 512, true));
            assertThat(c.headSize()).isEqualTo(8);
            assertThat(c.kvDim()).isEqualTo(32);
            // Independent check of the layout: the byte offset of rms_final_weight computed by hand from run.c's
            // memory_map_weights, and its first float read straight from the file.
            long floats = 512L * 64 + 5 * 64 + 5 * 64 * 64 + 2L * 5 * 64 * 32 + 5 * 64 * 64 + 5 * 64
                    + 3L * 5 * 64 * 172;
            long offset = 28 + 4 * floats;
            assertThat(ck.section("rms_final_weight").byteOffset()).isEqualTo(offset);
            float first = ByteBuffer.wrap(Files.readAllBytes(TestModels.stories())).order(ByteOrder.LITTLE_ENDIAN)
                    .getFloat((int) offset);
            assertThat(ck.weight("rms_final_weight", 0).get(ValueLayout.JAVA_FLOAT_UNALIGNED, 0)).isEqualTo(first);
            assertThat(ck.weight("wq", 4).byteSize()).isEqualTo(64L * 64 * 4);
            assertThat(ck.section("wcls")).isEqualTo(ck.section("token_embedding_table"));
            assertThatThrownBy(() -> ck.weight("wq", 5)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("5 layer(s)");
        }
    }

    @Test
    void truncatedFileNamesFileAndWeight() throws IOException {
        byte[] all = Files.readAllBytes(TestModels.stories());
        Path cut = tmp.resolve("cut.bin");
        Files.write(cut, Arrays.copyOf(all, all.length / 2));
        assertThatThrownBy(() -> Checkpoint.open(cut)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(cut.toString()).hasMessageContaining("truncated")
                .satisfies(e -> assertThat(((ModelFormatException) e).field()).isEqualTo("w1"));
        Path header = tmp.resolve("header.bin");
        Files.write(header, Arrays.copyOf(all, 28));
        assertThatThrownBy(() -> Checkpoint.open(header)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("'token_embedding_table'");
        Path tiny = tmp.resolve("tiny.bin");
        Files.write(tiny, Arrays.copyOf(all, 10));
        assertThatThrownBy(() -> Checkpoint.open(tiny)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("tiny.bin").hasMessageContaining("'n_layers'").hasMessageContaining("header");
    }

    @Test
    void corruptHeaderNamesTheField() throws IOException {
        byte[] all = Files.readAllBytes(TestModels.stories());
        assertThatThrownBy(() -> Checkpoint.open(withHeader(all, 0, -64))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("'dim'").hasMessageContaining("-64");
        assertThatThrownBy(() -> Checkpoint.open(withHeader(all, 3, 7))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("'n_heads'").hasMessageContaining("does not divide dim 64");
        assertThatThrownBy(() -> Checkpoint.open(withHeader(all, 4, 3))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("'n_kv_heads'");
        // A header that claims fewer layers leaves bytes over: the file does not match it.
        assertThatThrownBy(() -> Checkpoint.open(withHeader(all, 2, 4))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("bytes after the last weight");
        // A huge dimension: the weights cannot be in the file.
        assertThatThrownBy(() -> Checkpoint.open(withHeader(all, 1, Integer.MAX_VALUE)))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("truncated");
        // Negative vocab_size is valid (unshared classifier) but then wcls is missing.
        assertThatThrownBy(() -> Checkpoint.open(withHeader(all, 5, -512))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("'wcls'");
    }

    @Test
    void missingFile() {
        assertThatThrownBy(() -> Checkpoint.open(tmp.resolve("nope.bin"))).isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("nope.bin");
    }

    private Path withHeader(byte[] all, int field, int value) throws IOException {
        byte[] b = all.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(field * 4, value);
        Path p = tmp.resolve("h" + field + "_" + value + ".bin");
        Files.write(p, b);
        return p;
    }
}

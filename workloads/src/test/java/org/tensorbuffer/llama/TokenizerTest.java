package org.tensorbuffer.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTest {
    @TempDir
    Path tmp;

    @Test
    void encodesPromptsExactlyAsRunC() throws IOException {
        Tokenizer t = Tokenizer.load(TestModels.aidreamsTokenizer(), 512);
        String[] lines = TestModels.resource("aidreams-tok512-prompts.tsv").split("\n");
        assertThat(lines).hasSizeGreaterThanOrEqualTo(5);
        for (String line : lines) {
            String[] f = line.split("\t");
            int[] expected = Arrays.stream(f[1].trim().split(" ")).mapToInt(Integer::parseInt).toArray();
            assertThat(t.encode(f[0], true, false)).as("encode(%s)", f[0]).containsExactly(expected);
        }
        assertThat(t.encode("", true, true)).containsExactly(Tokenizer.BOS, Tokenizer.EOS);
    }

    @Test
    void decodesAsRunCPrints() throws IOException {
        Tokenizer t = Tokenizer.load(TestModels.aidreamsTokenizer(), 512);
        int[] prompt = t.encode("Héllo wörld ✓ 東京 🙂", true, false);
        // run.c drops single non-printable bytes (byte-fallback pieces of multi-byte characters): what is left of
        // a non-ASCII prompt is its ASCII letters and the pieces that exist in the vocabulary.
        String text = t.decodeAll(Tokenizer.BOS, Arrays.copyOfRange(prompt, 1, prompt.length));
        assertThat(text).startsWith("H").contains("llo w").contains("rld");
        assertThat(t.decodeAll(Tokenizer.BOS, Arrays.copyOfRange(t.encode("Once upon a time", true, false), 1, 13)))
                .isEqualTo("Once upon a time");
        // Leading space stripped only after BOS.
        int space = t.encode("x", false, false)[0];
        assertThat(new String(t.piece(space))).isEqualTo(" ");
        assertThat(t.decode(Tokenizer.BOS, space)).isEmpty();
        assertThat(t.decode(5, space)).containsExactly(' ');
    }

    @Test
    void vocabMismatchAndTruncationNameFileAndField() throws IOException {
        Path tok = TestModels.aidreamsTokenizer();
        assertThatThrownBy(() -> Tokenizer.load(tok, 500)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(tok.toString()).hasMessageContaining("'vocab_size'")
                .hasMessageContaining("more tokens than the model's vocab_size 500");
        assertThatThrownBy(() -> Tokenizer.load(tok, 32000)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("of token 512").hasMessageContaining("vocab_size is 32000");
        byte[] all = Files.readAllBytes(tok);
        Path cut = tmp.resolve("cut-tok.bin");
        Files.write(cut, Arrays.copyOf(all, all.length - 3));
        assertThatThrownBy(() -> Tokenizer.load(cut, 512)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("cut-tok.bin").hasMessageContaining("length of token 511");
        Path empty = tmp.resolve("empty.bin");
        Files.write(empty, new byte[2]);
        assertThatThrownBy(() -> Tokenizer.load(empty, 512)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("'max_token_length'");
    }
}

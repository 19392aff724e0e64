package org.tensorbuffer.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.StringReader;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;

class BarChartTest {
    static Document parse(String svg) throws Exception {
        return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(new InputSource(new StringReader(svg)));
    }

    /** The bars: rects that carry a tooltip title. */
    static List<Element> bars(Document d) {
        NodeList rects = d.getElementsByTagName("rect");
        List<Element> out = new ArrayList<>();
        for (int i = 0; i < rects.getLength(); i++) {
            Element r = (Element) rects.item(i);
            if (r.getElementsByTagName("title").getLength() == 1) {
                out.add(r);
            }
        }
        return out;
    }

    static double attr(Element e, String name) {
        return Double.parseDouble(e.getAttribute(name));
    }

    @Test
    void linearBarsAreProportionalToValuesAndShareABaseline() throws Exception {
        String svg = BarChart.titled("tokens/s <per strategy>").categories(List.of("none", "reactive"))
                .series("run A", 100, 300).series("run B", 200, Double.NaN).axis("tokens/s").svg();
        Document d = parse(svg); // well-formed XML, title escaped
        List<Element> bars = bars(d);
        assertThat(bars).hasSize(3); // the NaN leaves a gap
        double h100 = attr(bars.get(0), "height"); // bars go category by category, series by series
        double h200 = attr(bars.get(1), "height");
        double h300 = attr(bars.get(2), "height");
        assertThat(h300 / h100).isCloseTo(3.0, within(0.02));
        assertThat(h200 / h100).isCloseTo(2.0, within(0.02));
        double base = attr(bars.get(0), "y") + h100;
        assertThat(attr(bars.get(2), "y") + h300).isCloseTo(base, within(0.01));
        assertThat(bars.get(2).getTextContent()).isEqualTo("run A, reactive: 300");
        assertThat(svg).contains("tokens/s &lt;per strategy&gt;");
    }

    @Test
    void logScaleGivesEqualStepsPerDecade() throws Exception {
        Document d = parse(BarChart.titled("ns").categories(List.of("a", "b", "c")).series("s", 10, 100, 1000)
                .log(true).svg());
        List<Element> bars = bars(d);
        double h1 = attr(bars.get(0), "height");
        double h2 = attr(bars.get(1), "height");
        double h3 = attr(bars.get(2), "height");
        assertThat(h3 - h2).isCloseTo(h2 - h1, within(0.15));
        assertThat(h2 - h1).isGreaterThan(10);
    }

    @Test
    void rejectsASeriesOfTheWrongLength() {
        BarChart c = BarChart.titled("x").categories(List.of("a", "b"));
        assertThatThrownBy(() -> c.series("s", 1)).hasMessageContaining("series 's' has 1 values for 2 categories");
        assertThat(c.isEmpty()).isTrue();
    }
}

# soak_rss.gp: quicsteer-server RSS and open connections during the soak.
# Data: soak_rss.dat (seconds, RSS MiB, open connections), written by
# bench/run.py, which runs gnuplot soak_rss.gp in bench/charts/.
set terminal pngcairo size 900,420 font "DejaVu Sans,10"
set output "soak_rss.png"
set xlabel "seconds"
set ylabel "RSS, MiB"
set y2label "open connections"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set grid
set key bottom right
set title "quicsteer-server (2 workers, BPF) under mixed load"
plot "soak_rss.dat" using 1:2 with linespoints lw 2 title "RSS", \
     "" using 1:3 axes x1y2 with lines title "open connections"

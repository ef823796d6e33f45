# throughput.gp: requests/s (keep-alive) and handshakes/s (new connection
# per request) by server and worker count, median with min-max across
# rounds.  Data: throughput.dat, written by bench/run.py, which runs
#   gnuplot -e "names='...'; rate=N" throughput.gp   (in bench/charts/)
set terminal pngcairo size 1200,600 font "DejaVu Sans,10"
set output "throughput.png"
set multiplot layout 1,2
set bmargin 5
set style fill solid 0.8 border -1
set boxwidth 0.6
set grid ytics
set yrange [0:*]
set xtics nomirror
set key off
set format y "%.0s%c"
set title "requests/s, keep-alive (16 connections x 4 streams, 1 KiB)"
plot "throughput.dat" using 1:3:xtic(2) with boxes lc rgb "#4a78b0", \
     "" using 1:3:4:5 with yerrorbars lc rgb "black" pt 7 ps 0
set format y "%.0f"
set title "handshakes/s, new connection per request (32 concurrent)"
plot "throughput.dat" using 1:6:xtic(2) with boxes lc rgb "#c0703a", \
     "" using 1:6:7:8 with yerrorbars lc rgb "black" pt 7 ps 0
unset multiplot

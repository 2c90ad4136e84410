module leakwatch/targets

go 1.19

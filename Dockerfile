# kestrel on Debian 12: builds the monitor and the test guest.
#   docker build -t kestrel .
#   docker run --rm -it --device /dev/kvm kestrel            # demo guest, Ctrl-A x quits
#   docker run --rm --device /dev/kvm kestrel tools/test     # whole test suite
# The host's /dev/kvm must be VT-x/AMD-V backed for the demo; the tests fall
# back to tools/rig (software-emulated first level) otherwise.
FROM debian:12
RUN apt-get update && apt-get install -y --no-install-recommends sudo ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src/kestrel
COPY tools/debian-packages.txt tools/install-deps tools/
RUN tools/install-deps && rm -rf /var/lib/apt/lists/*
COPY . .
RUN meson setup build && ninja -C build && apt-get update && tools/build-guest
CMD ["tools/demo"]

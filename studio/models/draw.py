"""DRAW (Gregor, Danihelka, Graves, Rezende & Wierstra 2015): a recurrent variational auto-encoder that builds an
image on a canvas over ``glimpses`` steps, reading the image and writing the canvas through Gaussian filterbanks.

At every step t (the paper's equations 3-8):

    x^ = x - sigmoid(c_(t-1))                      the error image
    r = read(x, x^, h_dec_(t-1))                   attention: N x N glimpses of both, or both whole without it
    h_enc = LSTM_enc(h_enc, [r, h_dec_(t-1)])
    z ~ Q(z | h_enc) = N(mu, sigma)                reparameterised
    h_dec = LSTM_dec(h_dec, z)
    c_t = c_(t-1) + write(h_dec)                   attention: an N x N patch placed by filterbanks, or a whole image

The loss is the negative variational bound, in nats per image: the Bernoulli reconstruction loss of the final
canvas, ``L_x = -sum log p(x | sigmoid(c_T))``, plus ``L_z = sum_t KL(Q(z_t | h_enc_t) || N(0, I))``. Drawing
samples ``z_t`` from the prior and runs the decoder alone; each canvas is a frame of the picture being drawn.

Attention (section 3.2): the decoder emits ``(g~_X, g~_Y, log sigma^2, log delta~, log gamma)``; the grid centre is
``g_X = (A + 1)(g~_X + 1) / 2``, the stride ``delta = (max(A, B) - 1) / (N - 1) * delta~``, and row ``i`` of the
horizontal filterbank ``F_X[i, a]`` is a normalised Gaussian of ``a`` around ``g_X + (i - N/2 - 0.5) delta``. A
read is ``gamma * F_Y x F_X^T`` (N x N); a write ``F_Y^T w F_X / gamma`` (B x A). Images are (batch, B, A) =
(batch, height, width).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from studio.config import _Config, check_bool, check_range

EPS = 1e-8  # keeps a filterbank's normaliser away from 0 when every Gaussian falls off the image


@dataclass
class DrawConfig(_Config):
    """The shape of a ``Draw`` model; it is built from this alone. The defaults are the paper's MNIST model."""

    height: int = 28               # B, image rows
    width: int = 28                # A, image columns
    glimpses: int = 64             # T, read-write steps (the paper's MNIST models use 64)
    encoder_size: int = 256        # units of the encoder LSTM
    decoder_size: int = 256        # units of the decoder LSTM
    latent_size: int = 100         # width of each step's latent z
    attention: bool = True         # read and write through filterbanks; off: read whole images, write whole canvases
    read_size: int = 2             # N of the read glimpse (attention only)
    write_size: int = 5            # N of the written patch (attention only)

    def validate(self) -> None:
        check_range("height", self.height, 2, 4096, integer=True)
        check_range("width", self.width, 2, 4096, integer=True)
        check_range("glimpses", self.glimpses, 1, 1000, integer=True)
        check_range("encoder_size", self.encoder_size, 1, 65_536, integer=True)
        check_range("decoder_size", self.decoder_size, 1, 65_536, integer=True)
        check_range("latent_size", self.latent_size, 1, 65_536, integer=True)
        check_bool("attention", self.attention)
        check_range("read_size", self.read_size, 1, min(self.height, self.width), integer=True)
        check_range("write_size", self.write_size, 1, min(self.height, self.width), integer=True)

    @property
    def pixels(self) -> int:
        return self.height * self.width

    @property
    def read_width(self) -> int:
        """Width of what the encoder reads from the image and the error image together."""
        return 2 * self.read_size ** 2 if self.attention else 2 * self.pixels


def filterbanks(params: torch.Tensor, height: int, width: int, n: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The Gaussian filterbanks of one attention window.

    Parameters
    ----------
    params : Tensor (batch, 5)
        ``(g~_X, g~_Y, log sigma^2, log delta~, log gamma)`` as emitted by the decoder.
    height, width : int
        B and A, the image's shape.
    n : int
        N, the grid's side.

    Returns
    -------
    F_Y : Tensor (batch, N, B); F_X : Tensor (batch, N, A); gamma : Tensor (batch, 1, 1)
    """
    gx_, gy_, log_var, log_delta, log_gamma = params.split(1, dim=-1)             # each (batch, 1)
    gx = (width + 1) / 2 * (gx_ + 1)
    gy = (height + 1) / 2 * (gy_ + 1)
    delta = (max(width, height) - 1) / max(n - 1, 1) * torch.exp(log_delta)
    var = torch.exp(log_var)
    offsets = torch.arange(n, dtype=params.dtype, device=params.device) - n / 2 - 0.5 + 1  # i - N/2 - 0.5, i = 1..N
    mu_x = gx + offsets * delta                                                   # (batch, N)
    mu_y = gy + offsets * delta

    def bank(mu: torch.Tensor, size: int) -> torch.Tensor:
        # Pixels count from 1, as the grid points do: g~ = 0 then centres the window on the image.
        a = torch.arange(1, size + 1, dtype=params.dtype, device=params.device)
        f = torch.exp(-((a - mu.unsqueeze(-1)) ** 2) / (2 * var.unsqueeze(-1)))  # (batch, N, size)
        return f / (f.sum(-1, keepdim=True) + EPS)

    return bank(mu_y, height), bank(mu_x, width), torch.exp(log_gamma).unsqueeze(-1)


def _open_window(window: nn.Linear, n: int, side: int) -> None:
    """Start a window centred, its N points spread over about 3/4 of the image and each Gaussian half a stride wide.

    With zero biases a 2 x 2 read starts on the image's border pixels (stride 27, variance 1), which are blank in
    MNIST: the encoder then sees nothing of the digit and the latents go unused for hundreds of steps (measured:
    the bound stuck at the mean image's ~208 nats after 400 steps at 8 glimpses; 197.5 with a start like this).
    """
    stride = 0.75 * side / n
    with torch.no_grad():
        window.bias.zero_()
        window.bias[2] = 2 * math.log(stride / 2)                                    # log sigma^2
        window.bias[3] = math.log(stride * max(n - 1, 1) / (side - 1))                # log delta~


class Draw(nn.Module):
    """DRAW (see the module docstring). ``forward`` gives the loss terms; ``sample`` draws from the prior."""

    def __init__(self, config: DrawConfig) -> None:
        super().__init__()
        c = self.config = config
        self.encoder = nn.LSTMCell(c.read_width + c.decoder_size, c.encoder_size)
        self.decoder = nn.LSTMCell(c.latent_size, c.decoder_size)
        self.posterior = nn.Linear(c.encoder_size, 2 * c.latent_size)          # mu and log sigma
        patch = c.write_size ** 2 if c.attention else c.pixels
        self.write_patch = nn.Linear(c.decoder_size, patch)
        if c.attention:
            self.read_window = nn.Linear(c.decoder_size, 5)
            self.write_window = nn.Linear(c.decoder_size, 5)
            for window, n in ((self.read_window, c.read_size), (self.write_window, c.write_size)):
                _open_window(window, n, max(c.height, c.width))
        for cell in (self.encoder, self.decoder):
            with torch.no_grad():  # forget-gate bias 1, as every LSTM in Studio (Jozefowicz et al. 2015)
                cell.bias_hh[cell.hidden_size:2 * cell.hidden_size].fill_(1.0)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _read(self, x: torch.Tensor, error: torch.Tensor, h_dec: torch.Tensor) -> torch.Tensor:
        """(batch, B, A) image and error image -> (batch, read_width)."""
        if not self.config.attention:
            return torch.cat([x.flatten(1), error.flatten(1)], dim=-1)
        c = self.config
        fy, fx, gamma = filterbanks(self.read_window(h_dec), c.height, c.width, c.read_size)
        both = torch.stack([x, error], dim=1)                                   # (batch, 2, B, A)
        glimpse = fy.unsqueeze(1) @ both @ fx.transpose(1, 2).unsqueeze(1)       # (batch, 2, N, N)
        return (gamma.unsqueeze(1) * glimpse).flatten(1)

    def _write(self, h_dec: torch.Tensor) -> torch.Tensor:
        """(batch, decoder_size) -> what is added to the canvas, (batch, B, A)."""
        c = self.config
        patch = self.write_patch(h_dec)
        if not c.attention:
            return patch.view(-1, c.height, c.width)
        fy, fx, gamma = filterbanks(self.write_window(h_dec), c.height, c.width, c.write_size)
        patch = patch.view(-1, c.write_size, c.write_size)
        return fy.transpose(1, 2) @ patch @ fx / gamma

    def _start(self, batch: int, device: torch.device) -> tuple:
        c = self.config
        zeros = torch.zeros
        return (zeros(batch, c.height, c.width, device=device), (zeros(batch, c.encoder_size, device=device),) * 2,
                (zeros(batch, c.decoder_size, device=device),) * 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode and reconstruct a batch of binary images.

        Parameters
        ----------
        x : Tensor (batch, height, width) of 0/1 (floats)

        Returns
        -------
        recon_nats : Tensor (batch,), ``L_x``, the reconstruction loss of the final canvas in nats
        kl_nats : Tensor (batch, glimpses), ``KL(Q(z_t) || N(0, I))`` of each step in nats; the bound is
        ``recon_nats + kl_nats.sum(1)``
        """
        canvas, enc, dec = self._start(x.shape[0], x.device)
        kls = []
        for _ in range(self.config.glimpses):
            error = x - torch.sigmoid(canvas)
            r = self._read(x, error, dec[0])
            enc = self.encoder(torch.cat([r, dec[0]], dim=-1), enc)
            mu, log_sigma = self.posterior(enc[0]).chunk(2, dim=-1)
            z = mu + torch.exp(log_sigma) * torch.randn_like(mu)
            kls.append(0.5 * (mu ** 2 + torch.exp(2 * log_sigma) - 2 * log_sigma - 1).sum(-1))
            dec = self.decoder(z, dec)
            canvas = canvas + self._write(dec[0])
        recon = F.binary_cross_entropy_with_logits(canvas, x, reduction="none").flatten(1).sum(-1)
        return recon, torch.stack(kls, dim=1)

    @torch.no_grad()
    def sample(self, count: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor | None]:
        """Draw ``count`` images from the prior, keeping every step.

        Returns ``{"canvases": (glimpses, count, height, width)`` probabilities in [0, 1] (the last is the finished
        picture), ``"windows": (glimpses, count, 4)`` the box each write covered as ``(left, top, right, bottom)``
        in 0-based pixel coordinates (None without attention)``}``. ``generator`` (a CPU generator) fixes the draws.
        """
        c = self.config
        device = self.posterior.weight.device
        canvas, _, dec = self._start(count, device)
        frames, windows = [], []
        for _ in range(c.glimpses):
            z = torch.randn(count, c.latent_size, generator=generator).to(device)
            dec = self.decoder(z, dec)
            canvas = canvas + self._write(dec[0])
            frames.append(torch.sigmoid(canvas))
            if c.attention:
                windows.append(self._window_box(dec[0]))
        return {"canvases": torch.stack(frames), "windows": torch.stack(windows) if windows else None}

    def _window_box(self, h_dec: torch.Tensor) -> torch.Tensor:
        """The write window's box, (batch, 4): its N grid points lie N * delta wide around the centre."""
        c = self.config
        gx_, gy_, _, log_delta, _ = self.write_window(h_dec).split(1, dim=-1)
        gx, gy = (c.width + 1) / 2 * (gx_ + 1) - 1, (c.height + 1) / 2 * (gy_ + 1) - 1   # 0-based pixels
        half = (max(c.width, c.height) - 1) / max(c.write_size - 1, 1) * torch.exp(log_delta) * c.write_size / 2
        return torch.cat([gx - half, gy - half, gx + half, gy + half], dim=-1)


__all__ = ["Draw", "DrawConfig", "filterbanks"]

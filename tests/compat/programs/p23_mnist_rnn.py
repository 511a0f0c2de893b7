"""The MNIST RNN example: an LSTM reads each image row by row (batch_first), a linear head classifies
from the last step; trained with Adam and gradient norm clipping (on the 8x8 digits)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from _data import digits


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.rnn = nn.LSTM(input_size=8, hidden_size=32, batch_first=True)
        self.batchnorm = nn.BatchNorm1d(32)
        self.dropout1 = nn.Dropout2d(0.25)
        self.fc1 = nn.Linear(32, 10)

    def forward(self, input):
        output, hidden = self.rnn(input)
        output = output[:, -1, :]
        output = self.batchnorm(output)
        output = self.fc1(output)
        return F.log_softmax(output, dim=1)


def main():
    torch.manual_seed(0)
    x, y = digits()
    train = torch.utils.data.TensorDataset(torch.tensor(x[:640] / 16), torch.tensor(y[:640]))
    loader = torch.utils.data.DataLoader(train, batch_size=64, shuffle=True)
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for epoch in range(4):
        model.train()
        total = 0.0
        for data, target in loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            total += loss.item()
        losses.append(total / len(loader))
    model.eval()
    with torch.no_grad():
        out = model(torch.tensor(x[1600:] / 16))
    return {"exact": {"out_shape": list(out.shape)}, "loose": {"loss": losses}}
